"""Class offsets fitted on held-out probabilities: the missed classes gain, accuracy stays."""

import numpy as np
import pytest

from facematch.pipeline.calibration import fit_class_offsets, recall


def under_predicted(n=3000, seed=0):
    """Probabilities of a judge that knows class 2 but under-rates it (as the network does fear)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    logits = rng.normal(0, 1.0, (n, 4))
    logits[np.arange(n), labels] += 1.5
    logits[:, 2] -= 1.0  # the learned prior against class 2
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True), labels


def test_offsets_raise_the_missed_class_within_the_accuracy_bound():
    probs, labels = under_predicted()
    accuracy = (probs.argmax(1) == labels).mean()
    offsets = fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=0.005)
    shifted = np.log(probs) + offsets
    assert offsets[2] > 0.3 and np.count_nonzero(offsets) == 1  # only the named class moves
    assert recall(shifted, labels, 2) > recall(probs, labels, 2) + 0.15
    assert (shifted.argmax(1) == labels).mean() >= accuracy - 0.005


def test_no_offset_when_nothing_can_be_gained_within_the_bound():
    probs, labels = under_predicted()
    perfect = np.eye(4)[labels] * 0.9 + 0.025  # every face already right: any shift only costs
    assert not fit_class_offsets(perfect, labels, classes=[2], max_accuracy_drop=0.0).any()
    # An impossible bound keeps the judge as it is, too.
    assert not fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=-1.0).any()


def test_one_missed_class_never_gains_by_taking_another_ones_faces():
    probs, labels = under_predicted(seed=1)
    probs = probs.copy()
    probs[:, 3] *= 0.4  # class 3 under-rated too, and confused with class 2 by any shift
    probs /= probs.sum(1, keepdims=True)
    before = [recall(probs, labels, k) for k in (2, 3)]
    offsets = fit_class_offsets(probs, labels, classes=[2, 3], max_accuracy_drop=0.01)
    after = [recall(np.log(probs) + offsets, labels, k) for k in (2, 3)]
    assert after[0] >= before[0] and after[1] >= before[1] and sum(after) > sum(before)


def test_a_recall_target_is_met_at_the_best_accuracy_on_both_paths():
    probs, labels = under_predicted(seed=2)
    # The live path: the same faces seen once, noisier, so its class-2 recall is lower still.
    rng = np.random.default_rng(3)
    live = probs * np.exp(rng.normal(0, 0.6, probs.shape))
    live /= live.sum(1, keepdims=True)
    grid = np.round(np.arange(-0.5, 3.0, 0.1), 2)
    target = 0.6
    assert recall(live, labels, 2) < recall(probs, labels, 2) < target

    def fit(target, **kwargs):
        return fit_class_offsets(probs, labels, classes=[2], grid=grid, floors=[target], **kwargs)

    offsets = fit(target, max_accuracy_drop=0.05, also=live, maximise="accuracy")
    for path in (probs, live):
        assert recall(np.log(path) + offsets, labels, 2) >= target  # the target holds where the player plays too
    # Of the shifts that reach the target, the one kept costs the least accuracy: the recall-first fit
    # goes as far as the accuracy bound lets it and pays for it.
    greedy = fit(target, max_accuracy_drop=0.05, also=live, maximise="recall")
    accuracy = [((np.log(probs) + o).argmax(1) == labels).mean() for o in (offsets, greedy)]
    assert greedy[2] > offsets[2] + 0.5 and accuracy[0] > accuracy[1] + 0.03
    # A target the live path reaches only past the accuracy bound is not met by breaking the bound
    # (the averaged path alone would have been shifted).
    assert fit(0.84, max_accuracy_drop=0.0, maximise="accuracy")[2] > 1.0
    assert not fit(0.84, max_accuracy_drop=0.0, also=live, maximise="accuracy").any()
    with pytest.raises(ValueError, match="maximise"):
        fit(target, max_accuracy_drop=0.01, maximise="fun")


def test_offsets_may_be_bound_not_to_move_verdicts_that_a_change_of_size_moves():
    probs, labels = under_predicted(seed=4)
    # The same faces at another size, where the judge sees class 2 less (as a blur hides fear's wide eyes):
    # shifting class 2 up then flips more faces between the two sizes than it flips without the shift.
    resized = probs.copy()
    resized[:, 2] *= 0.5
    resized /= resized.sum(1, keepdims=True)

    def agreement(offsets):
        return ((np.log(probs) + offsets).argmax(1) == (np.log(resized) + offsets).argmax(1)).mean()

    free = fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=0.005)
    assert free[2] > 0.3 and agreement(free) < agreement(np.zeros(4)) - 0.02
    bound = fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=0.005, resampled=[[resized]])
    assert agreement(bound) >= agreement(np.zeros(4)) and bound[2] < free[2]
    # Where the other size changes nothing, the bound changes nothing either.
    same = fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=0.005, resampled=[[probs.copy()]])
    assert np.array_equal(same, free)
    # A floor given (another judge's agreement) lets the offsets spend the agreement down to it, not below.
    floor = agreement(np.zeros(4)) - 0.01
    spent = fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=0.005, resampled=[[resized]],
                              steady_floors=[[floor]])
    assert bound[2] < spent[2] <= free[2] and agreement(spent) >= floor
    with pytest.raises(ValueError, match="one list of arrays per path"):
        fit_class_offsets(probs, labels, classes=[2], max_accuracy_drop=0.005, resampled=[[resized], [resized]])
