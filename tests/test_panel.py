"""What the live panel draws from the game's state: the two faces, the best moment, the session's strip."""

import numpy as np

from facematch.app.panel import faces_html, moment_html, moments_strip_html
from facematch.play.coach import RoundCoach
from facematch.play.session import FinishedRound, PlayerRound


def finished(index: int, target: str, best) -> FinishedRound:
    return FinishedRound(index, target, (PlayerRound("ann", target, 60 + index, True, 1.0, 0.8, "AU15", best),))


def test_the_target_face_and_the_mirror_face_follow_the_coach():
    coach = RoundCoach("sad")
    unseen = faces_html("sad", coach.view())
    assert unseen.count("<svg") == 2 and "the coach has not seen your face yet" in unseen
    coach.update({"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9}, 0.0)
    seen = faces_html("sad", coach.view())
    assert "You, as the coach sees you" in seen and seen != unseen
    assert faces_html("sad", coach.view(), coach_on=False).count("<svg") == 1  # no mirror without the coach


def test_the_best_moment_sits_beside_the_asked_face_and_the_summary_shows_every_round():
    face = np.full((120, 90, 3), 128, np.uint8)
    html = moment_html(finished(0, "fear", face))
    assert html.count("<svg") == 1 and 'src="data:image/jpeg;base64,' in html
    assert "Your best moment: <b>fear</b>, 60 points" in html and "mouth corners down" in html
    assert moment_html(finished(0, "fear", None)) == " " and moment_html(None) == " "
    rounds = [finished(i, t, face) for i, t in enumerate(("angry", "disgust", "fear", "happy", "sad", "surprise",
                                                          "neutral"))]
    strip = moments_strip_html(rounds)
    assert strip.count("<img") == 7 and "neutral · 66" in strip
