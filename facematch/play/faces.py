"""What the analysis finds in a frame: faces with their boxes, probabilities and muscles; the seats of Duel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facematch import EMOTIONS

SEAT_NAMES = ("Player 1", "Player 2")


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height in frame pixels
    probs: np.ndarray  # float32 (7,), EMOTIONS order
    detection_score: float = 0.0
    # MediaPipe blendshape name → score in 0..1, on frames analysed with blendshapes=True and only
    # when the landmarker found this face too; None otherwise.
    blendshapes: dict[str, float] | None = None
    # The face as the camera saw it (a BGR view into the analysed frame, never copied or stored here):
    # the live session keeps a small copy of the best moment of each round, in memory only.
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


@dataclass
class FrameResult:
    faces: list[Face] = field(default_factory=list)
    error: str | None = None  # set when the frame could not be analysed
    width: int = 0  # frame width in pixels: Duel seats players by where their face is

    @property
    def primary(self) -> Face | None:
        return self.faces[0] if self.faces else None


def assign_seats(result: FrameResult, seats: int) -> list[Face | None]:
    """Each seat's face: the `seats` largest faces, ordered left to right (Player 1 on the left).

    A seat with no face gets None. With one face of two seats, the face takes the seat on its
    side of the frame, so a player who steps out does not hand their seat to the other.
    """
    if seats == 1:
        return [result.primary]
    faces = sorted(result.faces[:seats], key=lambda f: f.box[0] + f.box[2] / 2)
    if len(faces) == seats:
        return list(faces)
    out: list[Face | None] = [None] * seats
    for face in faces:
        centre = face.box[0] + face.box[2] / 2
        seat = min(seats - 1, int(seats * centre / result.width)) if result.width else 0
        while out[seat] is not None and seat + 1 < seats:
            seat += 1
        out[seat] = face
    return out


def attach_blendshapes(faces: list[Face], measured) -> None:
    """Give each detected face the blendshapes of the landmarker face whose centre lies in its box.

    The two models find faces independently; a centre inside the box (the nearest, if several)
    is the same face. A detected face with no such landmarker face keeps blendshapes None.
    """
    free = list(measured)
    for face in faces:
        x, y, w, h = face.box
        inside = [m for m in free if x <= m[0][0] <= x + w and y <= m[0][1] <= y + h]
        if inside:
            best = min(inside, key=lambda m: (m[0][0] - x - w / 2) ** 2 + (m[0][1] - y - h / 2) ** 2)
            face.blendshapes = best[1]
            free.remove(best)
