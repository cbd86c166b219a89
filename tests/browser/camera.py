"""Feed a real image to the page's camera: Chromium's fake capture device plays a Y4M file
(``--use-file-for-fake-video-capture``), so a camera test writes one from the PNG the stack
served (a venue poster, a personal code) and the page's own decoder reads it."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


#: Camera launch arguments on top of ``BROWSER_ARGS`` (conftest): grant the camera without a
#: prompt and play ``y4m`` as the camera.
def camera_args(y4m: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]


def frame_from_png(png: bytes, width: int = 640, height: int = 480, margin: int = 24) -> Image.Image:
    """The PNG scaled to fit inside a white frame of width × height (a quiet zone around it)."""
    source = Image.open(io.BytesIO(png)).convert("RGB")
    scale = min((width - 2 * margin) / source.width, (height - 2 * margin) / source.height)
    size = (max(1, int(source.width * scale)), max(1, int(source.height * scale)))
    frame = Image.new("RGB", (width, height), "white")
    frame.paste(
        source.resize(size, Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS),
        ((width - size[0]) // 2, (height - size[1]) // 2),
    )
    return frame


def write_y4m(png: bytes, path: Path, *, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """A YUV4MPEG2 (C420, 10 fps) video of ``frames`` identical frames showing ``png``."""
    frame = frame_from_png(png, width, height)
    y, u, v = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = (
        y.tobytes()
        + u.resize(half, Image.Resampling.BILINEAR).tobytes()
        + v.resize(half, Image.Resampling.BILINEAR).tobytes()
    )
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(planes)
    return path
