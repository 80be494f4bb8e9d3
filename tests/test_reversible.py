"""The reverse pass: adjoints, exact inversion, BN sharing, geometry, wrapping plain Sequentials."""
import pytest
import torch
from torch import nn

from racecar.network import RacecarNet
from racecar.reversible import adjoint, invert_geometry

torch.manual_seed(0)


def _inner(a, b):
    return float((a * b).sum())


@pytest.mark.parametrize("op, x_shape", [
    (nn.Linear(7, 5), (3, 7)),
    (nn.Conv2d(3, 4, 3, padding=1), (2, 3, 8, 8)),
    (nn.Conv2d(3, 4, 5, padding=2), (2, 3, 16, 16)),
    (nn.Conv2d(4, 6, 3, stride=2, padding=1), (2, 4, 8, 8)),
    (nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 6, 6)),
    (nn.Conv2d(2, 3, 3, padding=2, dilation=2), (1, 2, 9, 9)),
    (nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), (2, 3, 5, 5)),
])
def test_reverse_of_each_weight_layer_is_the_adjoint_of_its_linear_part(op, x_shape):
    x = torch.randn(x_shape, dtype=torch.float64)
    op = op.double()
    with torch.no_grad():
        y_fwd = op(x) - (op.bias.view((1, -1) + (1,) * (x.dim() - 2)))  # linear part only
        y = torch.randn_like(y_fwd)
        back = adjoint(op, y, tuple(x.shape[-2:]) if x.dim() == 4 else None)
    assert back.shape == x.shape
    assert _inner(y_fwd, y) == pytest.approx(_inner(x, back), rel=1e-10)


def test_block_reverse_subtracts_the_bias_before_the_transpose():
    net = RacecarNet([nn.Linear(4, 3)], input_post=None).double()
    top = torch.randn(5, 3, dtype=torch.float64)
    (regenerated,) = net.reverse(top)
    lin = net.blocks[0].op
    assert torch.allclose(regenerated, (top - lin.bias) @ lin.weight)


def test_orthogonal_linear_stack_with_zero_bias_reconstructs_its_input_exactly():
    layers = []
    for _ in range(4):
        lin = nn.Linear(8, 8).double()
        nn.init.orthogonal_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
    net = RacecarNet(layers, input_post=None)
    x = torch.randn(16, 8, dtype=torch.float64)
    fwd = net(x)
    regenerated = net.reverse(fwd.top)
    for state, rec in zip(fwd.states, regenerated):
        assert torch.allclose(state, rec, atol=1e-12)


def test_reverse_batchnorm_is_the_forward_module_sharing_parameters_and_running_stats():
    net = RacecarNet([nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.Conv2d(4, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU()],
                     input_post=None)
    bn1 = net.blocks[0].layers[1]
    assert net.blocks[0].value_layers[0] is bn1
    before = bn1.running_mean.clone()
    net.train()
    top = torch.randn(2, 5, 6, 6) + 3.0
    net.reverse(top)  # L'_2 = relu(BN_1(D_2(I_r - b_2))): the reverse updates BN_1's stats
    assert not torch.equal(bn1.running_mean, before)
    # in eval mode the reverse normalises with the shared running statistics
    net.eval()
    y = net.blocks[1].reverse_linear(top)
    expected = torch.relu((y - bn1.running_mean.view(1, -1, 1, 1))
                          / torch.sqrt(bn1.running_var.view(1, -1, 1, 1) + bn1.eps)
                          * bn1.weight.view(1, -1, 1, 1) + bn1.bias.view(1, -1, 1, 1))
    assert torch.allclose(net.reverse(top)[1], expected, atol=1e-6)


def test_reverse_uses_the_activation_of_the_previous_layer():
    net = RacecarNet([nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.ReLU()], input_post=None)
    top = torch.randn(5, 2)
    regenerated = net.reverse(top)
    lin2 = net.blocks[1].op
    assert torch.allclose(regenerated[1], torch.tanh((top - lin2.bias) @ lin2.weight))


def test_max_pool_reverses_to_nearest_upsampling_and_upsampling_to_max_pool():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    up = invert_geometry(nn.MaxPool2d(2), x)
    assert up.shape == (1, 1, 8, 8) and torch.equal(up[..., ::2, ::2], x)
    assert torch.equal(invert_geometry(nn.Upsample(scale_factor=2, mode="nearest"), up), x)


def test_states_and_regenerated_layers_match_in_shape_for_upsampling_generators():
    from racecar.models import smoke_generator
    net = smoke_generator()
    fwd = net(torch.rand(2, 1, 16, 16))
    assert fwd.top.shape == (2, 1, 64, 64)
    assert [s.shape for s in fwd.states] == [r.shape for r in net.reverse(fwd.top)]


def test_wrapping_torchvision_vgg19_features_unchanged_moves_the_last_pool_to_the_head():
    from torchvision.models import vgg19
    vgg = vgg19(weights=None, num_classes=10)
    net = RacecarNet.from_layers(vgg.features, n_blocks=16,
                                 head=nn.Sequential(vgg.avgpool, nn.Flatten(), vgg.classifier))
    assert net.n_layers == 16
    assert isinstance(net.head[0], nn.MaxPool2d)  # Table 10: I_r -> MP -> FC
    assert net.blocks[0].op is vgg.features[0]    # the very same modules, no copies
    x = torch.rand(1, 3, 32, 32)
    net.eval()  # the classifier's dropout
    fwd = net(x)
    with torch.no_grad():
        assert torch.allclose(fwd.output, vgg(x), atol=1e-5)
    assert fwd.top.shape == (1, 512, 2, 2)
    assert net.reverse(fwd.top)[0].shape == x.shape


def test_unsupported_layers_in_the_constrained_part_are_rejected_with_their_name():
    with pytest.raises(TypeError, match="Flatten"):
        RacecarNet([nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2)])
    with pytest.raises(TypeError, match="must start with"):
        RacecarNet([nn.ReLU(), nn.Linear(2, 2)])
