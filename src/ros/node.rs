//! The ROS 2 node on ros2-client: creates every endpoint of DESIGN §5 under the resolved names,
//! declares the parameters, and runs the tasks (outputs, inputs, services, diagnostics) until
//! shutdown. Publishers/subscriptions are shared through [`Endpoints`] so diagnostics can read
//! their match counts; the per-endpoint logic lives in the task files it spawns.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ros2_client::{
    Context, ContextOptions, MessageTypeName, Name, Node, NodeName, NodeOptions, QosProfile, Server, ServiceMapping,
    ServiceTypeName,
};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::diagnostics_task::{InputTopics, diagnostics_loop, match_count};
use super::endpoints::{Endpoints, In, Out, Shared};
use super::error::PublishError;
use super::msgs_pixel_sail::{DescribeRequest, DescribeResponse, SetPromptsRequest, SetPromptsResponse};
use super::msgs_std::{CameraInfo, Image, PointStamped, StringMsg};
use super::qos::{self, Endpoint, QosSpec};
use super::startup::RosStartup;
use super::{depth_inputs, inputs, lifecycle_node, outputs, services};
use crate::config::params::{NodeSettings, runtime_validator};
use crate::link::{PipelineLink, SetCommands};
use crate::spatial::DepthFeed;

/// One camera's endpoints, before their tasks start.
struct CameraEndpoints {
    name: String,
    out: Arc<Endpoints>,
    prompt: In<StringMsg>,
    point: In<PointStamped>,
    image: Option<In<Image>>,
    depth: Option<(In<Image>, In<CameraInfo>, DepthFeed)>,
    set_prompts: Server<SetPromptsRequest, SetPromptsResponse>,
    describe: Server<DescribeRequest, DescribeResponse>,
    shared: Arc<Shared>,
}

/// Runs the node until `shutdown` resolves. With one camera its topics are the node's own (`~/detections`,
/// `image`, …); with several, each camera's go under its name (`~/NAME/detections`, `NAME/image`, …) and the
/// node's `~/prompt`, `~/set_prompts` and `prompts` parameter set every camera's commands.
pub async fn run(
    startup: RosStartup,
    link: PipelineLink,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), PublishError> {
    let RosStartup { names, settings, domain_id, ros_source: _, security } = startup;
    let fqn = names.fully_qualified_node();
    let ctx = Context::with_options(context_options(domain_id, &security))
        .map_err(|e| PublishError::dds(format!("joining DDS domain {domain_id}"), e))?;

    let PipelineLink { cameras, lifecycle } = link;
    let several = cameras.len() > 1;
    let camera_shared: Vec<Arc<Shared>> = cameras
        .iter()
        .map(|_| Arc::new(Shared { commands: Mutex::new(settings.prompts.clone()), ..Default::default() }))
        .collect();
    let targets: Vec<(mpsc::Sender<SetCommands>, Arc<Shared>)> =
        cameras.iter().zip(&camera_shared).map(|(c, s)| (c.commands.clone(), s.clone())).collect();

    // Parameters: declared with their start values; the validator refuses bad/read-only values with a
    // reason; the set action updates the shared settings (and every camera's commands, for `prompts`).
    let (settings_tx, settings_rx) = watch::channel(settings.clone());
    let current = Arc::new(Mutex::new(settings.clone()));
    let mut options = NodeOptions::new().enable_rosout(true);
    for (k, v) in settings.to_params() {
        options = options.declare_parameter(&k, v);
    }
    options = options.parameter_validator(Box::new(runtime_validator(&settings)));
    {
        let (current, targets) = (current.clone(), targets.clone());
        options = options.parameter_set_action(Box::new(move |name, value| {
            let mut s = current.lock().map_err(|_| "settings lock poisoned".to_owned())?;
            let before = s.clone();
            s.apply(name, value).map_err(|e| e.to_string())?;
            let active = targets[0].1.commands.lock().map(|c| c.clone()).unwrap_or_default();
            if name == "prompts" && s.prompts != active {
                services::check_count(s.prompts.len(), s.max_prompts)?;
                // The worker answers on the log; parameter sets cannot wait for it.
                for (commands, shared) in &targets {
                    commands
                        .try_send(SetCommands::new(s.prompts.clone()))
                        .map_err(|_| "the pipeline is busy; try again".to_owned())?;
                    if let Ok(mut c) = shared.commands.lock() {
                        c.clone_from(&s.prompts);
                    }
                }
            }
            if before != *s {
                info!("parameter {name} set to {value:?}");
                settings_tx.send_replace(s.clone());
            }
            Ok(())
        }));
    }
    let node_name = NodeName::new(names.namespace(), names.node())
        .map_err(|e| PublishError::dds(format!("naming node {fqn}"), e))?;
    let mut node =
        ctx.new_node(node_name, options).map_err(|e| PublishError::dds(format!("creating node {fqn}"), e))?;

    let mut links = Vec::with_capacity(cameras.len());
    let mut made = Vec::with_capacity(cameras.len());
    for (camera, shared) in cameras.into_iter().zip(camera_shared) {
        let prefix = if several { format!("{}/", camera.name) } else { String::new() };
        let mut make = EndpointFactory { node: &mut node, names: &names, settings: &settings, prefix: &prefix };
        let out = Arc::new(Endpoints {
            detections: make.output(&qos::DETECTIONS, ("pixel_sail_msgs", "GroundingArray"))?,
            mask: make.output(&qos::MASK, ("sensor_msgs", "Image"))?,
            mask_compressed: make.output(&qos::MASK_COMPRESSED, ("sensor_msgs", "CompressedImage"))?,
            overlay: make.output(&qos::OVERLAY, ("sensor_msgs", "Image"))?,
            overlay_compressed: make.output(&qos::OVERLAY_COMPRESSED, ("sensor_msgs", "CompressedImage"))?,
            description: make.output(&qos::DESCRIPTION, ("std_msgs", "String"))?,
            diagnostics: make.output(&qos::DIAGNOSTICS, ("diagnostic_msgs", "DiagnosticArray"))?,
            detections_2d: make.output(&qos::DETECTIONS_2D, ("vision_msgs", "Detection2DArray"))?,
            detections_3d: make.output(&qos::DETECTIONS_3D, ("vision_msgs", "Detection3DArray"))?,
            markers: make.output(&qos::MARKERS, ("visualization_msgs", "MarkerArray"))?,
            tf: make.output(&qos::TF, ("tf2_msgs", "TFMessage"))?,
            fqn: if several { format!("{fqn}/{}", camera.name) } else { fqn.clone() },
        });
        let prompt = make.input(&qos::PROMPT, ("std_msgs", "String"))?;
        let point = make.input(&qos::POINT_PROMPT, ("geometry_msgs", "PointStamped"))?;
        let image = match &camera.frames {
            Some(_) => Some(make.input(&qos::IMAGE, ("sensor_msgs", "Image"))?),
            None => None,
        };
        // Depth for 3-D comes with a ROS camera: `depth` and `camera_info` beside its `image`.
        let depth = match (&camera.depth, &camera.frames) {
            (Some(feed), Some(_)) => Some((
                make.input(&qos::DEPTH, ("sensor_msgs", "Image"))?,
                make.input(&qos::CAMERA_INFO, ("sensor_msgs", "CameraInfo"))?,
                feed.clone(),
            )),
            _ => None,
        };
        let set_prompts = make.service("~/set_prompts", "SetPrompts")?;
        let describe = make.service("~/describe", "Describe")?;
        made.push(CameraEndpoints {
            name: camera.name.clone(),
            out,
            prompt,
            point,
            image,
            depth,
            set_prompts,
            describe,
            shared,
        });
        links.push(camera);
    }
    // With several cameras, the node's own `~/prompt` and `~/set_prompts` set every camera's commands.
    let node_wide = if several {
        let mut make = EndpointFactory { node: &mut node, names: &names, settings: &settings, prefix: "" };
        let prompt: In<StringMsg> = make.input(&qos::PROMPT, ("std_msgs", "String"))?;
        let server: Server<SetPromptsRequest, SetPromptsResponse> = make.service("~/set_prompts", "SetPrompts")?;
        Some((prompt, server))
    } else {
        None
    };
    let lifecycle = match lifecycle {
        Some(calls) => Some((lifecycle_node::create(&mut node, &names)?, calls)),
        None => None,
    };

    let spinner = node.spinner().map_err(|e| PublishError::dds("starting the spinner", e))?;
    let node = Arc::new(node);
    let spin_task = tokio::spawn(async move {
        if let Err(e) = spinner.spin().await {
            warn!("ROS spinner stopped: {e:?}");
        }
    });
    let mut tasks = Vec::new();
    let mut diag_inputs = Vec::new();
    let mut all_out = Vec::new();
    for (c, link) in made.into_iter().zip(links) {
        let mut waiters = vec![input_waiter(&c.prompt, &node), input_waiter(&c.point, &node)];
        if let Some(i) = &c.image {
            waiters.push(input_waiter(i, &node));
        }
        if let Some((d, ci, _)) = &c.depth {
            waiters.push(input_waiter(d, &node));
            waiters.push(input_waiter(ci, &node));
        }
        spawn_match_watchers(&c.out, waiters, &node, &mut tasks);
        let inputs_in_diag = Arc::new(InputTopics {
            prompt: match_count(&c.prompt),
            point: match_count(&c.point),
            image: c.image.as_ref().map(match_count),
            depth: c.depth.as_ref().map(|(d, _, _)| match_count(d)),
            camera_info: c.depth.as_ref().map(|(_, ci, _)| match_count(ci)),
        });
        tasks.push(tokio::spawn(outputs::publish_results(
            link.results,
            c.out.clone(),
            node.clone(),
            settings_rx.clone(),
            c.shared.clone(),
        )));
        let command_sink = services::Commands {
            targets: vec![(link.commands.clone(), c.shared.clone())],
            settings: settings_rx.clone(),
            node: node.clone(),
            sets_parameter: !several,
        };
        tasks.push(tokio::spawn(inputs::prompts(c.prompt, command_sink.clone())));
        tasks.push(tokio::spawn(inputs::point_prompts(c.point, link.describe.clone(), c.out.clone())));
        tasks.push(tokio::spawn(services::set_prompts(c.set_prompts, command_sink)));
        tasks.push(tokio::spawn(services::describe(c.describe, link.describe.clone())));
        if let (Some(image), Some(frames)) = (c.image, link.frames) {
            tasks.push(tokio::spawn(inputs::images(image, frames, settings_rx.clone(), c.shared.clone())));
        }
        if let Some((depth_in, info_in, feed)) = c.depth {
            tasks.push(tokio::spawn(depth_inputs::depth(depth_in, feed.clone(), c.shared.clone())));
            tasks.push(tokio::spawn(depth_inputs::camera_info(info_in, feed, c.shared.clone())));
        }
        let status_name = if several { format!("{fqn}/{}", c.name) } else { fqn.clone() };
        tasks.push(tokio::spawn(diagnostics_loop(
            status_name,
            c.out.clone(),
            inputs_in_diag.clone(),
            node.clone(),
            link.stats,
            settings_rx.clone(),
            c.shared,
        )));
        diag_inputs.push(inputs_in_diag);
        all_out.push(c.out);
    }
    if let Some((prompt, server)) = node_wide {
        let every_camera = services::Commands {
            targets: targets.clone(),
            settings: settings_rx.clone(),
            node: node.clone(),
            sets_parameter: true,
        };
        tasks.push(tokio::spawn(inputs::prompts(prompt, every_camera.clone())));
        tasks.push(tokio::spawn(services::set_prompts(server, every_camera)));
    }
    if let Some((endpoints, calls)) = lifecycle {
        lifecycle_node::spawn(endpoints, calls, &mut tasks);
    }
    info!(node = %fqn, domain = domain_id, cameras = all_out.len(), "ROS 2 node up: outputs under {fqn}/…, services {fqn}/set_prompts, {fqn}/describe");

    shutdown.await;
    info!("ROS 2 node shutting down");
    let undecodable: Vec<(String, u64)> = diag_inputs.iter().flat_map(|i| i.undecodable_counts()).collect();
    if let Some(line) = super::undecodable::summary(&undecodable) {
        warn!("{line}");
    }
    // their match counters hold the input subscriptions: they go with the other endpoints, before the node
    drop(diag_inputs);
    // Drop order matters to RustDDS/ros2-client: every task (and the endpoints they hold) first,
    // then the node (its drop tells the spinner to stop), then the spinner, then the context;
    // otherwise each endpoint logs an error about a stopped event loop.
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    drop(targets);
    drop(all_out);
    drop(node);
    let _ = tokio::time::timeout(Duration::from_secs(2), spin_task).await;
    drop(ctx);
    Ok(())
}

/// The DDS participant's options: the domain, and DDS Security with the enclave's files when asked for.
fn context_options(domain_id: u16, security: &super::security::Security) -> ContextOptions {
    let options = ContextOptions::new().domain_id(domain_id);
    #[cfg(feature = "security")]
    if let super::security::Security::Enclave(dir) = security {
        info!(enclave = %dir.display(), "DDS Security on: authenticated, access-controlled, encrypted");
        // sros2 writes the private key unencrypted: no password.
        return options.enable_security(dir, String::new());
    }
    #[cfg(not(feature = "security"))]
    let _ = security;
    options
}

/// An input's "has matched once" flag and the future that resolves on its first match.
type FirstMatch = (Arc<AtomicBool>, futures::future::BoxFuture<'static, ()>);

/// Marks each endpoint once its first peer matches (see [`Out::ever_matched`]).
fn spawn_match_watchers(
    out: &Arc<Endpoints>,
    inputs: Vec<FirstMatch>,
    node: &Arc<Node>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) {
    macro_rules! watch_out {
        ($field:ident) => {{
            let (o, n) = (out.clone(), node.clone());
            tasks.push(tokio::spawn(async move {
                // Each new wait first looks at the match table itself, so re-arming every second also
                // covers a match event lost from ros2-client's bounded status channel at start-up.
                while tokio::time::timeout(Duration::from_secs(1), o.$field.publisher.wait_for_subscription(&n))
                    .await
                    .is_err()
                {}
                o.$field.ever_matched.store(true, Ordering::Relaxed);
            }));
        }};
    }
    watch_out!(detections);
    watch_out!(mask);
    watch_out!(mask_compressed);
    watch_out!(overlay);
    watch_out!(overlay_compressed);
    watch_out!(description);
    watch_out!(diagnostics);
    watch_out!(detections_2d);
    watch_out!(detections_3d);
    watch_out!(markers);
    watch_out!(tf);
    for (flag, fut) in inputs {
        tasks.push(tokio::spawn(async move {
            fut.await;
            flag.store(true, Ordering::Relaxed);
        }));
    }
}

fn input_waiter<M: 'static + Send + Sync>(i: &In<M>, node: &Arc<Node>) -> FirstMatch {
    let (sub, node) = (i.subscription.clone(), node.clone());
    (
        i.ever_matched.clone(),
        Box::pin(async move {
            while tokio::time::timeout(Duration::from_secs(1), sub.wait_for_publisher(&node)).await.is_err() {}
        }),
    )
}

struct EndpointFactory<'a> {
    node: &'a mut Node,
    names: &'a super::names::NameResolver,
    settings: &'a NodeSettings,
    /// `NAME/` for a camera's own endpoints when there are several, else empty.
    prefix: &'a str,
}

impl EndpointFactory<'_> {
    /// `~/x` → `~/NAME/x` and `x` → `NAME/x` for a camera's endpoints; absolute names (`/diagnostics`, `/tf`) stay.
    fn camera_name(&self, name: &str) -> String {
        match name.strip_prefix("~/") {
            Some(rest) => format!("~/{}{rest}", self.prefix),
            None if name.starts_with('/') => name.to_owned(),
            None => format!("{}{name}", self.prefix),
        }
    }

    fn topic(
        &mut self,
        ep: &Endpoint,
        ty: (&str, &str),
    ) -> Result<(ros2_client::dds::rustdds::Topic, String, QosSpec), PublishError> {
        let resolved = self.names.resolve(&self.camera_name(ep.name))?;
        let spec = qos::spec_for(self.settings, &resolved, ep);
        let name = Name::parse(&resolved).map_err(|e| PublishError::dds(format!("naming {resolved}"), e))?;
        let topic = self
            .node
            .create_topic(&name, MessageTypeName::new(ty.0, ty.1), &spec.profile())
            .map_err(|e| PublishError::dds(format!("creating topic {resolved}"), e))?;
        Ok((topic, resolved, spec))
    }

    fn output<M: serde::Serialize>(&mut self, ep: &Endpoint, ty: (&str, &str)) -> Result<Out<M>, PublishError> {
        let (topic, resolved, qos) = self.topic(ep, ty)?;
        let publisher = self
            .node
            .create_publisher(&topic, None)
            .map_err(|e| PublishError::dds(format!("creating publisher {resolved}"), e))?;
        info!(topic = %resolved, qos = %qos.describe(), "publishing {}/{}", ty.0, ty.1);
        Ok(Out { publisher, topic: resolved, qos, ever_matched: Arc::new(AtomicBool::new(false)) })
    }

    fn input<M: 'static>(&mut self, ep: &Endpoint, ty: (&str, &str)) -> Result<In<M>, PublishError> {
        let (topic, resolved, qos) = self.topic(ep, ty)?;
        let subscription = self
            .node
            .create_subscription(&topic, None)
            .map_err(|e| PublishError::dds(format!("creating subscription {resolved}"), e))?;
        info!(topic = %resolved, qos = %qos.describe(), "subscribed {}/{}", ty.0, ty.1);
        Ok(In {
            subscription: Arc::new(subscription),
            topic: resolved,
            qos,
            ever_matched: Arc::new(AtomicBool::new(false)),
            undecodable: Arc::new(AtomicU64::new(0)),
        })
    }

    fn service<Req, Resp>(&mut self, name: &str, ty: &str) -> Result<Server<Req, Resp>, PublishError>
    where
        Req: ros2_client::Message + Clone + 'static,
        Resp: ros2_client::Message + 'static,
    {
        let resolved = self.names.resolve(&self.camera_name(name))?;
        let n = Name::parse(&resolved).map_err(|e| PublishError::dds(format!("naming {resolved}"), e))?;
        let q: QosProfile = QosSpec::reliable(10).profile();
        let server = self
            .node
            .create_server(ServiceMapping::Enhanced, &n, &ServiceTypeName::new("pixel_sail_msgs", ty), q.clone(), q)
            .map_err(|e| PublishError::dds(format!("creating service {resolved}"), e))?;
        info!(service = %resolved, "serving pixel_sail_msgs/srv/{ty}");
        Ok(server)
    }
}
