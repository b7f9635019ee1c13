"""Example bring-up: a V4L2 USB camera (v4l2_camera), pixel-sail on its image topic, and
rqt_image_view on the overlay. Clicking in rqt_image_view (enable the mouse-click publisher in its
toolbar) asks "what is this?": the click topic is remapped onto ~/point_prompt and the answer
appears on ~/description.

  sudo apt install ros-$ROS_DISTRO-v4l2-camera ros-$ROS_DISTRO-rqt-image-view
  ros2 launch launch/usb_camera_example.launch.py video_device:=/dev/video0
  ros2 topic pub --once /cam1/pixel_sail/prompt std_msgs/msg/String "{data: 'pick up the red cup'}"
  ros2 topic echo /cam1/pixel_sail/description

The overlay is viewed through the compressed topic (image_transport "compressed"), which every
stock subscriber receives; the raw topic needs the Fast DDS profile this launch sets.
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, SetEnvironmentVariable
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_launch_description():
    ns = LaunchConfiguration("namespace")
    profile = os.path.join(HERE, "fastdds_bigbuf.xml")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="cam1"),
        DeclareLaunchArgument("video_device", default_value="/dev/video0"),
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", profile),
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", profile),
        Node(
            package="v4l2_camera", executable="v4l2_camera_node", namespace=ns, name="camera",
            parameters=[{"video_device": LaunchConfiguration("video_device"), "image_size": [640, 480],
                         "output_encoding": "rgb8", "camera_frame_id": "camera_optical_frame"}],
        ),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(HERE, "pixel_sail.launch.py")),
            launch_arguments={
                "namespace": ns,
                # v4l2_camera publishes `image_raw` in its namespace; pixel-sail subscribes best effort.
                "image": ["/", ns, "/image_raw"],
                "extra_args": ["--no-progress"],
            }.items(),
        ),
        Node(
            package="rqt_image_view", executable="rqt_image_view", namespace=ns, name="viewer",
            arguments=[["/", ns, "/pixel_sail/overlay"]],
            remappings=[(["/", ns, "/pixel_sail/overlay_mouse_left"], ["/", ns, "/pixel_sail/point_prompt"])],
        ),
    ])
