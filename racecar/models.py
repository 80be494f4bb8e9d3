"""The paper's networks (appendix Tables 1, 3, 5, 7, 10) as ``RacecarNet``s.

Each builder declares the forward structure once; the reverse pass follows from it (see
``racecar.network``). Shapes in comments are per sample. Biases start at zero, as in the authors'
TensorFlow layers (PyTorch draws them at random); see :func:`zero_biases` for why it matters.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from racecar.network import RacecarNet


def zero_biases(net: nn.Module) -> nn.Module:
    """Set every Linear / Conv bias to zero (TensorFlow's default initialisation).

    With PyTorch's random biases the reverse pass of Table 3 starts almost dead: the first
    reverse layer computes relu(D(L'_2 - b_1)) with L'_2 ~ 0, a constant of one sign per image,
    often negative, so I' = 0 everywhere, the input term of eq. 1 gets no gradient and RR^3 only
    learns to shrink its activations (offline: I' = 0 and test accuracy < 0.35 after 4 epochs for
    seeds 0 and 1; with zero biases I' close to I).
    """
    for module in net.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and module.bias is not None:
            nn.init.zeros_(module.bias)
    return net


def mi_net(widths: Sequence[int] = (12, 10, 7, 5, 4, 3, 2)) -> RacecarNet:
    """Table 1: I(12) -> tanh(FC(10)) -> tanh(FC(7)) -> ... -> tanh(FC(2)) = O(2) = I_r.

    All six layers are constrained (RR^6); the cross entropy is taken on the tanh outputs, as the
    table's O(2) is the last tanh. Reverse: O(2) - b_6 -> tanh(FC(3)) - b_5 -> ... -> tanh(FC(12)).
    """
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(w_in, w_out), nn.Tanh()]
    return zero_biases(RacecarNet(layers))


def mnist_net(classes: int = 10) -> RacecarNet:
    """Table 3: I(28,28,1) -> relu(C(3,64)) -> MP -> relu(C(3,64)) -> MP -> relu(C(3,1)) = I_r
    (1, 7, 7) -> FC(10). Reverse: I_r - b_3 -> relu(D(3,64)) -> UP - b_2 -> relu(D(3,64)) -> UP
    - b_1 -> relu(D(3,1)) -> I'(28,28,1). The FC head is outside the constrained part (RR^3)."""
    body = [nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (64, 14, 14)
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (64, 7, 7)
            nn.Conv2d(64, 1, 3, padding=1), nn.ReLU()]                     # (1, 7, 7) = I_r
    return zero_biases(RacecarNet(body, head=nn.Sequential(nn.Flatten(), nn.Linear(49, classes))))


CIFAR_CHANNELS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def cifar_net(classes: int = 10, bn_eps: float = 1e-3, bn_momentum: float = 0.1,
              fc_width: int = 4096) -> RacecarNet:
    """Table 5: 13 x relu(BN(C(3,k)+b)) with 4 max-pools, I_r (512, 2, 2), then
    relu(BN(FC(4096))) x 2 and relu(BN(FC(classes))) -- the table's final relu(BN(.)) is kept.
    The reverse ends in relu(BN(D(3,3))): an input BN owned by the reverse pass (RR^13)."""
    layers: list[nn.Module] = []
    c_in = 3
    for c in CIFAR_CHANNELS:
        if c == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers += [nn.Conv2d(c_in, c, 3, padding=1),
                   nn.BatchNorm2d(c, eps=bn_eps, momentum=bn_momentum), nn.ReLU()]
        c_in = c
    head = nn.Sequential(
        nn.Flatten(),                                                         # 512*2*2
        nn.Linear(512 * 2 * 2, fc_width), nn.BatchNorm1d(fc_width, eps=bn_eps), nn.ReLU(),
        nn.Linear(fc_width, fc_width), nn.BatchNorm1d(fc_width, eps=bn_eps), nn.ReLU(),
        nn.Linear(fc_width, classes), nn.BatchNorm1d(classes, eps=bn_eps), nn.ReLU())
    input_post = nn.Sequential(nn.BatchNorm2d(3, eps=bn_eps, momentum=bn_momentum), nn.ReLU())
    return zero_biases(RacecarNet(layers, head=head, input_post=input_post))


def smoke_generator() -> RacecarNet:
    """Table 7 generator: I(16,16,1) -> relu(C(5,64)) -> UP -> relu(C(5,128)) -> UP ->
    relu(C(5,128)) -> relu(C(5,64)) -> relu(C(5,32)) -> relu(C(5,1)) = O(64,64,1) = I_r.
    Reverse: max-pool undoes each UP (RR^6)."""
    k, p = 5, 2
    body = [nn.Conv2d(1, 64, k, padding=p), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(64, 128, k, padding=p), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(128, 128, k, padding=p), nn.ReLU(),
            nn.Conv2d(128, 64, k, padding=p), nn.ReLU(),
            nn.Conv2d(64, 32, k, padding=p), nn.ReLU(),
            nn.Conv2d(32, 1, k, padding=p), nn.ReLU()]
    return zero_biases(RacecarNet(body))


def smoke_discriminator(bn_eps: float = 1e-3) -> nn.Sequential:
    """Table 7 discriminator (not reversed): I(64,64,2) -> 4 x lrelu(BN(C(5,k)+b)) -> FC(1)."""
    layers: list[nn.Module] = []
    c_in = 2
    for c in (32, 64, 128, 256):
        layers += [nn.Conv2d(c_in, c, 5, padding=2), nn.BatchNorm2d(c, eps=bn_eps),
                   nn.LeakyReLU(0.2)]
        c_in = c
    return zero_biases(nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 64 * 64, 1)))


def vgg19_net(classes: int = 1000) -> RacecarNet:
    """Table 10: torchvision's VGG19 (no BN) wrapped unchanged; its 16 convolutions are
    constrained (RR^16), I_r is taken before the last max-pool, which moves into the head."""
    from torchvision.models import vgg19

    vgg = vgg19(weights=None, num_classes=classes)
    head = nn.Sequential(vgg.avgpool, nn.Flatten(), vgg.classifier)
    return zero_biases(RacecarNet.from_layers(vgg.features, n_blocks=16, head=head))
