//! The DDS Security peer of `tests/ros_security.rs`: a ros2-client/RustDDS node that subscribes to a
//! pixel-sail node's `~/detections` for a while and prints how many messages it received. With an
//! enclave directory it joins with DDS Security (that enclave's keys); without one it joins in the clear.
//! The PyPI rclpy wheels carry no DDS Security plugins, so this program is the secured ROS 2 peer.
//!
//!   cargo run --features security --example secure_listener -- TOPIC SECONDS [ENCLAVE_DIR]
//!
//! `ROS_DOMAIN_ID` chooses the domain. Prints `received N` and exits 0 (N may be 0).

use std::time::Duration;

use futures::StreamExt;
use pixel_sail::ros::msgs_pixel_sail::GroundingArray;
use pixel_sail::ros::qos::QosSpec;
use ros2_client::{Context, ContextOptions, MessageTypeName, Name, NodeName, NodeOptions};

fn main() -> anyhow::Result<()> {
    pixel_sail::telemetry::init(0, true);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [topic, seconds, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: secure_listener TOPIC SECONDS [ENCLAVE_DIR]");
    };
    let seconds: f64 = seconds.parse()?;
    let domain: u16 = std::env::var("ROS_DOMAIN_ID").ok().and_then(|d| d.parse().ok()).unwrap_or(0);
    let mut options = ContextOptions::new().domain_id(domain);
    if let Some(dir) = rest.first() {
        options = options.enable_security(dir, String::new());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let received = runtime.block_on(async {
        let context = Context::with_options(options).map_err(|e| anyhow::anyhow!("joining DDS: {e:?}"))?;
        let name = NodeName::new("/", "secure_listener").map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut node = context.new_node(name, NodeOptions::new()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let spinner = node.spinner().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let spin = tokio::spawn(async move { spinner.spin().await });
        let topic = node
            .create_topic(
                &Name::parse(topic).map_err(|e| anyhow::anyhow!("{e:?}"))?,
                MessageTypeName::new("pixel_sail_msgs", "GroundingArray"),
                &QosSpec::reliable(10).profile(),
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let subscription =
            node.create_subscription::<GroundingArray>(&topic, None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut received = 0u64;
        {
            let stream = subscription.async_stream();
            futures::pin_mut!(stream);
            let deadline = tokio::time::sleep(Duration::from_secs_f64(seconds));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    msg = stream.next() => match msg {
                        Some(Ok(_)) => received += 1,
                        Some(Err(_)) => {}
                        None => break,
                    },
                }
            }
        }
        drop(subscription);
        drop(node);
        spin.abort();
        anyhow::Ok(received)
    })?;
    println!("received {received}");
    Ok(())
}
