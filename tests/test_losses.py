"""The racecar loss (eq. 1): gradients everywhere, the RR^s choice, reductions, lambdas."""
import pytest
import torch
import torch.nn.functional as F

from racecar.losses import constrained_layers, paper_lambda, racecar_loss
from racecar.models import cifar_net, mi_net, mnist_net, smoke_generator
from racecar.training import Trainer, TrainConfig

NETS = {
    "mi": (mi_net, (8, 12), 2),
    "mnist": (mnist_net, (4, 1, 28, 28), 10),
    "cifar": (lambda: cifar_net(classes=10, fc_width=32), (4, 3, 32, 32), 10),
}


@pytest.mark.parametrize("name", list(NETS))
def test_under_the_racecar_loss_every_trainable_parameter_receives_a_gradient(name):
    build, shape, classes = NETS[name]
    torch.manual_seed(0)
    net = build()
    x, y = torch.rand(shape), torch.randint(0, classes, (shape[0],))
    parts = Trainer(net, TrainConfig(variant="racecar", racecar_lambdas=1.0)).losses(x, y, 0)
    parts["total_loss"].backward()
    missing = [n for n, p in net.named_parameters()
               if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))]
    assert missing == []


def test_the_racecar_loss_alone_reaches_every_constrained_parameter_of_the_smoke_generator():
    torch.manual_seed(0)
    net = smoke_generator()
    fwd = net(torch.rand(2, 1, 16, 16))
    racecar_loss(fwd.states, net.reverse(fwd.top), 1.0).backward()
    assert all(p.grad is not None and torch.any(p.grad != 0) for p in net.parameters())


def test_phase_two_and_std_ignore_the_reverse_pass():
    torch.manual_seed(0)
    net = cifar_net(fc_width=16)
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    parts = Trainer(net, TrainConfig(variant="std")).losses(x, y, 0)
    assert set(parts) == {"task_loss", "total_loss"}
    assert torch.equal(parts["total_loss"], F.cross_entropy(net(x).output, y))
    parts["total_loss"].backward()
    assert all(p.grad is None for p in net.input_post.parameters())  # reverse-only BN untouched


def test_rr1_constrains_only_the_input_and_rr_s_the_first_s_layers():
    assert constrained_layers(6, 1) == [0]
    assert constrained_layers(6, 6) == [0, 1, 2, 3, 4, 5]
    assert constrained_layers(6, [1, 3]) == [0, 2]
    states = [torch.zeros(2, 3), torch.zeros(2, 4)]
    regenerated = [torch.ones(2, 3), torch.full((2, 4), 10.0)]
    assert float(racecar_loss(states, regenerated, 1.0, layers=1)) == pytest.approx(0.5 * 3)


def test_reductions_batch_mean_sum_and_mean():
    states, regenerated = [torch.zeros(4, 5)], [torch.full((4, 5), 2.0)]
    assert float(racecar_loss(states, regenerated, 1.0, reduction="sum")) == 0.5 * 4 * 5 * 4
    assert float(racecar_loss(states, regenerated, 1.0)) == 0.5 * 5 * 4
    assert float(racecar_loss(states, regenerated, 1.0, reduction="mean")) == 4.0


def test_per_layer_lambdas_weight_each_term_and_must_match_the_constrained_count():
    states = [torch.zeros(1, 2), torch.zeros(1, 2)]
    regenerated = [torch.ones(1, 2), torch.ones(1, 2)]
    assert float(racecar_loss(states, regenerated, [1.0, 3.0])) == pytest.approx(1.0 + 3.0)
    with pytest.raises(ValueError, match="3 lambdas for 2"):
        racecar_loss(states, regenerated, [1.0, 2.0, 3.0])


def test_paper_lambda_conversion_reproduces_the_authors_sum_on_raw_pixels():
    """lambda_paper * 0.5 * sum over batch of raw (0..255) diffs == ours on [0, 1] inputs."""
    torch.manual_seed(0)
    ours_in, ours_rec = torch.rand(64, 784), torch.rand(64, 784)
    authors = 1e-5 * racecar_loss([ours_in * 255], [ours_rec * 255], 1.0, reduction="sum")
    ours = racecar_loss([ours_in], [ours_rec], paper_lambda(1e-5, 64, input_scale=1 / 255))
    assert float(ours) == pytest.approx(float(authors), rel=1e-5)
    assert paper_lambda(1e-5, 64, 1 / 255) == pytest.approx(41.616)
