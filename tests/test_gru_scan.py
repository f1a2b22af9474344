"""The fused GRU recurrence equals torch.nn.GRU, values and gradients."""

import pytest
import torch
from torch import nn

from sklearn_tsmask._gru_scan import _GRUScan, gru_states
from sklearn_tsmask.perturbation_nets import RecurrentPerturbation


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_matches_nn_gru_values_and_gradients(bidirectional, dtype, tol):
    torch.manual_seed(0)
    rnn = nn.GRU(3, 4, batch_first=True, bidirectional=bidirectional).to(dtype)
    x = torch.randn(5, 7, 3, dtype=dtype, requires_grad=True)
    expected = rnn(x)[0]
    weights = torch.randn_like(expected)
    expected_grads = torch.autograd.grad(expected, [x, *rnn.parameters()], weights)
    got = gru_states(rnn, x)
    got_grads = torch.autograd.grad(got, [x, *rnn.parameters()], weights)
    assert got.shape == expected.shape == (5, 7, 4 * (2 if bidirectional else 1))
    torch.testing.assert_close(got, expected, atol=tol, rtol=tol)
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(g, e, atol=tol, rtol=tol)


def test_scan_gradcheck():
    gen = torch.Generator().manual_seed(1)
    args = [torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True) for shape in [(6, 3, 12), (4, 12), (12,)]]
    assert torch.autograd.gradcheck(_GRUScan.apply, args)


def test_one_step_by_hand():
    # one unit, one step, from h = 0: r and z do not matter through h, n = tanh(gi_n + r·b_n)
    gi = torch.tensor([[[0.2, -0.4, 0.5]]], dtype=torch.float64)
    w_t = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([0.1, 0.3, -0.2], dtype=torch.float64)
    r = torch.sigmoid(torch.tensor(0.3, dtype=torch.float64))
    z = torch.sigmoid(torch.tensor(-0.1, dtype=torch.float64))
    n = torch.tanh(0.5 + r * -0.2)
    h = (1 - z) * n
    torch.testing.assert_close(_GRUScan.apply(gi, w_t, b), h.reshape(1, 1, 1))


def test_rejects_what_it_does_not_compute():
    x = torch.randn(2, 5, 3)
    for rnn in [nn.GRU(3, 2, num_layers=2, batch_first=True), nn.GRU(3, 2), nn.GRU(3, 2, bias=False, batch_first=True)]:
        with pytest.raises(ValueError, match="one-layer, batch-first GRU"):
            gru_states(rnn, x)


def test_perturbation_net_uses_it_and_keeps_the_module_result():
    torch.manual_seed(0)
    net = RecurrentPerturbation(3)
    x = torch.randn(4, 3, 9)
    with torch.no_grad():
        states, _ = net.rnn(x.transpose(1, 2))
        expected = net.linear(torch.nn.functional.normalize(states, dim=-1)).transpose(1, 2)
        torch.testing.assert_close(net(x), expected)
