"""The tabletop vocabulary: attributes, phrases and the special tokens shared by every tool."""

SHAPES = ["circle", "square", "triangle", "star", "ring", "cross"]
COLOURS = ["red", "orange", "yellow", "green", "blue", "purple", "white", "black"]
SIZES = ["small", "large"]
# Description places, a 3x3 grid over the object's centroid: PLACES[row][col].
PLACES = [
    ["in the top left", "at the top", "in the top right"],
    ["on the left", "in the center", "on the right"],
    ["in the bottom left", "at the bottom", "in the bottom right"],
]
WRAPPERS = ["pick up {}", "grab {}", "segment {}", "find {}", "where is {}?", "show me {}", "{}"]

VP_COUNT = 4  # <vp_1> … <vp_4>
SPECIAL_TOKENS = (
    ["<pad>", "<unk>", "<|user|>", "<|assistant|>", "<|eot|>", "<vision>", "</vision>", "<vpatch>", "[SEG]", "<none>"]
    + [f"<vp_{i + 1}>" for i in range(VP_COUNT)]
)

TEMPLATES = {
    "segment": "<|user|>{text}<|assistant|>",
    "describe": "<|user|>describe {text}<|assistant|>",
    "describe_vp": "<|user|>describe <vp_1><|assistant|>",
    "segment_vp": "<|user|>segment <vp_1><|assistant|>",
}


def description(size: str, colour: str, shape: str, place: str) -> str:
    return f"a {size} {colour} {shape} {place}"


def parse_description(text: str):
    """(size, colour, shape, place) of a description, or None; 'big' counts as 'large'."""
    words = text.strip().lower().replace("big", "large").split()
    if len(words) < 5 or words[0] != "a":
        return None
    size, colour, shape = words[1], words[2], words[3]
    place = " ".join(words[4:])
    if size not in SIZES or colour not in COLOURS or shape not in SHAPES:
        return None
    if place not in [p for row in PLACES for p in row]:
        return None
    return size, colour, shape, place
