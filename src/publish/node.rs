//! The ROS 2 node on ros2-client: creates every endpoint of DESIGN §5 under the resolved names,
//! declares the parameters, and runs the tasks (outputs, inputs, services, diagnostics) until
//! shutdown. Publishers/subscriptions are shared through [`Endpoints`] so diagnostics can read
//! their match counts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ros2_client::{
    Context, ContextOptions, MessageTypeName, Name, Node, NodeName, NodeOptions, Publisher, QosProfile, Server,
    ServiceMapping, ServiceTypeName, Subscription,
};
use tokio::sync::watch;
use tracing::{info, warn};

use super::diagnostics::{self, DiagnosticsInput, EndpointState, LatencyWindow};
use super::error::PublishError;
use super::link::{PipelineLink, PipelineStats};
use super::msgs_pixel_sail::{
    DescribeRequest, DescribeResponse, GroundingArray, SetPromptsRequest, SetPromptsResponse,
};
use super::msgs_std::{CompressedImage, DiagnosticArray, Image, PointStamped, StringMsg, Time};
use super::params::{NodeSettings, runtime_validator};
use super::qos::{self, Endpoint, QosSpec};
use super::startup::RosStartup;
use super::{inputs, lifecycle_node, outputs, services};

/// One publisher and what diagnostics needs to know about it.
pub struct Out<M: serde::Serialize> {
    pub publisher: Publisher<M>,
    pub topic: String,
    pub qos: QosSpec,
    /// Set once a subscriber has matched: before that, ros2-client's match count logs an error
    /// on every call, so it is not asked.
    pub ever_matched: Arc<AtomicBool>,
}

impl<M: serde::Serialize> Out<M> {
    /// QoS-compatible subscribers matched now.
    pub fn matched(&self, node: &Node) -> usize {
        if self.ever_matched.load(Ordering::Relaxed) { self.publisher.get_subscription_count(node) } else { 0 }
    }
}

/// One subscription and what diagnostics needs to know about it.
pub struct In<M> {
    pub subscription: Arc<Subscription<M>>,
    pub topic: String,
    pub qos: QosSpec,
    pub ever_matched: Arc<AtomicBool>,
}

/// Every topic endpoint of the node.
pub struct Endpoints {
    pub detections: Out<GroundingArray>,
    pub mask: Out<Image>,
    pub mask_compressed: Out<CompressedImage>,
    pub overlay: Out<Image>,
    pub overlay_compressed: Out<CompressedImage>,
    pub description: Out<StringMsg>,
    pub diagnostics: Out<DiagnosticArray>,
}

/// Counters and state shared by the node's tasks.
#[derive(Default)]
pub struct Shared {
    pub frames_published: AtomicU64,
    pub input_frames: AtomicU64,
    pub input_errors: AtomicU64,
    pub latency: Mutex<LatencyWindow>,
    pub active_commands: AtomicU64,
    /// ROS input frames skipped to honour `max_rate`.
    pub rate_skipped: AtomicU64,
    /// The commands the worker last accepted.
    pub commands: Mutex<Vec<String>>,
}

/// The settings as they change at run time (parameter sets).
pub type SettingsRx = watch::Receiver<NodeSettings>;

/// Runs the node until `shutdown` resolves.
pub async fn run(
    startup: RosStartup,
    link: PipelineLink,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), PublishError> {
    let RosStartup { names, settings, domain_id, ros_source } = startup;
    let fqn = names.fully_qualified_node();
    let ctx = Context::with_options(ContextOptions::new().domain_id(domain_id))
        .map_err(|e| PublishError::dds(format!("joining DDS domain {domain_id}"), e))?;

    // Parameters: declared with their start values; the validator refuses bad/read-only values with a
    // reason; the set action updates the shared settings (and the commands, for `prompts`).
    let PipelineLink { commands, describe, results, stats, frames, lifecycle } = link;
    let (settings_tx, settings_rx) = watch::channel(settings.clone());
    let current = Arc::new(Mutex::new(settings.clone()));
    let shared = Arc::new(Shared { commands: Mutex::new(settings.prompts.clone()), ..Default::default() });
    let mut options = NodeOptions::new().enable_rosout(true);
    for (k, v) in settings.to_params() {
        options = options.declare_parameter(&k, v);
    }
    options = options.parameter_validator(Box::new(runtime_validator(&settings)));
    {
        let (current, commands, shared) = (current.clone(), commands.clone(), shared.clone());
        options = options.parameter_set_action(Box::new(move |name, value| {
            let mut s = current.lock().map_err(|_| "settings lock poisoned".to_owned())?;
            let before = s.clone();
            s.apply(name, value).map_err(|e| e.to_string())?;
            let active = shared.commands.lock().map(|c| c.clone()).unwrap_or_default();
            if name == "prompts" && s.prompts != active {
                services::check_count(s.prompts.len(), s.max_prompts)?;
                // The worker answers on the log; parameter sets cannot wait for it.
                commands
                    .try_send(crate::app::SetCommands::new(s.prompts.clone()))
                    .map_err(|_| "the pipeline is busy; try again".to_owned())?;
                if let Ok(mut c) = shared.commands.lock() {
                    c.clone_from(&s.prompts);
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

    let mut make = EndpointFactory { node: &mut node, names: &names, settings: &settings };
    let endpoints = Arc::new(Endpoints {
        detections: make.output(&qos::DETECTIONS, ("pixel_sail_msgs", "GroundingArray"))?,
        mask: make.output(&qos::MASK, ("sensor_msgs", "Image"))?,
        mask_compressed: make.output(&qos::MASK_COMPRESSED, ("sensor_msgs", "CompressedImage"))?,
        overlay: make.output(&qos::OVERLAY, ("sensor_msgs", "Image"))?,
        overlay_compressed: make.output(&qos::OVERLAY_COMPRESSED, ("sensor_msgs", "CompressedImage"))?,
        description: make.output(&qos::DESCRIPTION, ("std_msgs", "String"))?,
        diagnostics: make.output(&qos::DIAGNOSTICS, ("diagnostic_msgs", "DiagnosticArray"))?,
    });
    let prompt: In<StringMsg> = make.input(&qos::PROMPT, ("std_msgs", "String"))?;
    let point: In<PointStamped> = make.input(&qos::POINT_PROMPT, ("geometry_msgs", "PointStamped"))?;
    let image: Option<In<Image>> =
        if ros_source { Some(make.input(&qos::IMAGE, ("sensor_msgs", "Image"))?) } else { None };
    let set_prompts_srv: Server<SetPromptsRequest, SetPromptsResponse> = make.service("~/set_prompts", "SetPrompts")?;
    let describe_srv: Server<DescribeRequest, DescribeResponse> = make.service("~/describe", "Describe")?;
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
    let mut waiters = vec![input_waiter(&prompt, &node), input_waiter(&point, &node)];
    if let Some(i) = &image {
        waiters.push(input_waiter(i, &node));
    }
    spawn_match_watchers(&endpoints, waiters, &node, &mut tasks);
    let inputs_in_diag = Arc::new(InputTopics {
        prompt: match_count(&prompt),
        point: match_count(&point),
        image: image.as_ref().map(match_count),
    });
    tasks.push(tokio::spawn(outputs::publish_results(
        results,
        endpoints.clone(),
        node.clone(),
        settings_rx.clone(),
        shared.clone(),
    )));
    let command_sink = services::Commands {
        tx: commands.clone(),
        settings: settings_rx.clone(),
        shared: shared.clone(),
        node: node.clone(),
    };
    tasks.push(tokio::spawn(inputs::prompts(prompt, command_sink.clone())));
    tasks.push(tokio::spawn(inputs::point_prompts(point, describe.clone(), endpoints.clone())));
    tasks.push(tokio::spawn(services::set_prompts(set_prompts_srv, command_sink)));
    tasks.push(tokio::spawn(services::describe(describe_srv, describe.clone())));
    if let (Some(image), Some(frames)) = (image, frames) {
        tasks.push(tokio::spawn(inputs::images(image, frames, settings_rx.clone(), shared.clone())));
    } else if ros_source {
        warn!("source is `ros` but the pipeline gave no frame input; `image` is not subscribed");
    }
    if let Some((endpoints, calls)) = lifecycle {
        lifecycle_node::spawn(endpoints, calls, &mut tasks);
    }
    tasks.push(tokio::spawn(diagnostics_loop(
        fqn.clone(),
        endpoints.clone(),
        inputs_in_diag,
        node.clone(),
        stats,
        settings_rx,
        shared,
    )));
    info!(node = %fqn, domain = domain_id, "ROS 2 node up: outputs under {fqn}/…, services {fqn}/set_prompts, {fqn}/describe");

    shutdown.await;
    info!("ROS 2 node shutting down");
    // Drop order matters to RustDDS/ros2-client: every task (and the endpoints they hold) first,
    // then the node (its drop tells the spinner to stop), then the spinner, then the context;
    // otherwise each endpoint logs an error about a stopped event loop.
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    drop(endpoints);
    drop(node);
    let _ = tokio::time::timeout(Duration::from_secs(2), spin_task).await;
    drop(ctx);
    Ok(())
}

/// Input topics as diagnostics sees them: name, QoS, and a matched-publisher counter.
type MatchCount = Box<dyn Fn(&Node) -> usize + Send + Sync>;
struct InputTopics {
    prompt: (String, QosSpec, MatchCount),
    point: (String, QosSpec, MatchCount),
    image: Option<(String, QosSpec, MatchCount)>,
}

fn match_count<M: 'static + Send + Sync>(i: &In<M>) -> (String, QosSpec, MatchCount) {
    let (sub, ever) = (i.subscription.clone(), i.ever_matched.clone());
    (
        i.topic.clone(),
        i.qos,
        Box::new(move |node: &Node| if ever.load(Ordering::Relaxed) { sub.get_publisher_count(node) } else { 0 }),
    )
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
}

impl EndpointFactory<'_> {
    fn topic(
        &mut self,
        ep: &Endpoint,
        ty: (&str, &str),
    ) -> Result<(ros2_client::dds::rustdds::Topic, String, QosSpec), PublishError> {
        let resolved = self.names.resolve(ep.name)?;
        let spec = self.settings.qos_for(&resolved, ep);
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
        })
    }

    fn service<Req, Resp>(&mut self, name: &str, ty: &str) -> Result<Server<Req, Resp>, PublishError>
    where
        Req: ros2_client::Message + Clone + 'static,
        Resp: ros2_client::Message + 'static,
    {
        let resolved = self.names.resolve(name)?;
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

async fn diagnostics_loop(
    fqn: String,
    out: Arc<Endpoints>,
    inputs: Arc<InputTopics>,
    node: Arc<Node>,
    stats: Arc<dyn Fn() -> PipelineStats + Send + Sync>,
    settings: SettingsRx,
    shared: Arc<Shared>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut previous, mut previous_published, mut last) = (stats(), 0u64, Instant::now());
    loop {
        tick.tick().await;
        let mut now_stats = stats();
        if inputs.image.is_some() {
            // The ROS source bypasses capture: count what the `image` subscription delivered.
            now_stats.frames_in = shared.input_frames.load(Ordering::Relaxed);
            now_stats.dropped += shared.rate_skipped.load(Ordering::Relaxed);
        }
        let published = shared.frames_published.load(Ordering::Relaxed);
        let pub_state = |topic: &str, qos: QosSpec, matched: usize| EndpointState {
            topic: topic.to_owned(),
            direction: qos::Direction::Publisher,
            qos,
            matched,
            discovered: node.subscription_count(topic).max(matched),
        };
        let sub_state = |(topic, qos, matched): &(String, QosSpec, MatchCount)| {
            let matched = matched(&node);
            EndpointState {
                topic: topic.clone(),
                direction: qos::Direction::Subscription,
                qos: *qos,
                matched,
                discovered: node.publisher_count(topic).max(matched),
            }
        };
        let mut endpoints = vec![
            pub_state(&out.detections.topic, out.detections.qos, out.detections.matched(&node)),
            pub_state(&out.mask.topic, out.mask.qos, out.mask.matched(&node)),
            pub_state(&out.mask_compressed.topic, out.mask_compressed.qos, out.mask_compressed.matched(&node)),
            pub_state(&out.description.topic, out.description.qos, out.description.matched(&node)),
        ];
        if settings.borrow().overlay {
            endpoints.push(pub_state(&out.overlay.topic, out.overlay.qos, out.overlay.matched(&node)));
            endpoints.push(pub_state(
                &out.overlay_compressed.topic,
                out.overlay_compressed.qos,
                out.overlay_compressed.matched(&node),
            ));
        }
        endpoints.push(sub_state(&inputs.prompt));
        endpoints.push(sub_state(&inputs.point));
        if let Some(image) = &inputs.image {
            endpoints.push(sub_state(image));
        }
        let latency = shared.latency.lock().ok().and_then(|l| l.percentiles());
        let s = settings.borrow().clone();
        let input = DiagnosticsInput {
            node: &fqn,
            source: &s.source,
            stats: &now_stats,
            previous: &previous,
            elapsed: last.elapsed(),
            frames_published: published,
            previous_published,
            latency,
            endpoints: &endpoints,
            input_errors: shared.input_errors.load(Ordering::Relaxed),
            active_commands: shared.active_commands.load(Ordering::Relaxed) as usize,
            stamp: Time::from_system(SystemTime::now()),
        };
        let msg = diagnostics::build(&input);
        if let Err(e) = out.diagnostics.publisher.publish(msg) {
            warn!("publishing /diagnostics failed: {e:?}");
        }
        (previous, previous_published, last) = (now_stats, published, Instant::now());
    }
}
