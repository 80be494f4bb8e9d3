"""Pressure projection on the fixed domain (shared/notes/smoke.md, step 7 and "The pressure solver").

Unknowns: pressure in the fluid block, rows 2..H-3 and columns 1..W-2, (B, Ny, Nx) with
Ny = H - 4, Nx = W - 2. The 5-point matrix is ``A p = sum over non-wall neighbours (p - p_nb)``:
walls are Neumann (no term), open cells are Dirichlet (p_nb = 0). With ``rhs = -div(u)`` and the
update ``u(i) -= p(i) - p(i-1)`` on every face with a fluid side and no wall side, the projected
field has ``div(u) = rhs - A p``: the solver's residual *is* the remaining divergence.

Two solvers reach the tolerance (max-norm residual, cell units):

- ``cg``: plain conjugate gradients as mantaflow runs in 2D (its MIC preconditioner is 3D only),
  pressure starting from 0 every step, at most ``2 * 4 * resolution`` iterations, batched over
  simulations; each simulation stops when its own residual is below the tolerance.
- ``fast``: exact diagonalisation, A = Lx (+) Ly with Lx the Neumann 1D Laplacian (DCT-II basis)
  and Ly the Dirichlet one (DST-I basis): two dense basis changes per side, cached; O(N^3) flops
  but four batched matmuls, cheaper than hundreds of CG sweeps on a CPU or a GPU. A refinement
  pass is taken when float32 round-off leaves a residual above tolerance / 10.
"""
from __future__ import annotations

import math

import torch

from datagen.smoke.config import OPEN_ROWS, WALL_COLS
from datagen.smoke.grid import Domain, divergence


def apply_laplacian(p: torch.Tensor) -> torch.Tensor:
    """A p for p (B, Ny, Nx): Neumann in x (ghost = edge value), Dirichlet 0 in y.

    Written as in-place shifted subtractions (no padded copies): it is the inner loop of CG.
    """
    a = 4.0 * p
    a[..., 1:].sub_(p[..., :-1])                             # left neighbours
    a[..., :-1].sub_(p[..., 1:])                             # right neighbours
    a[..., :1].sub_(p[..., :1])                              # Neumann walls: ghost = the cell
    a[..., -1:].sub_(p[..., -1:])
    a[..., 1:, :].sub_(p[..., :-1, :])                       # below (row 0: open cell, p = 0)
    a[..., :-1, :].sub_(p[..., 1:, :])                       # above
    return a


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-simulation inner product (B,) of two (B, Ny, Nx) tensors."""
    return torch.einsum("bij,bij->b", a, b)


def solve_cg(rhs: torch.Tensor, tol: float, max_iter: int) -> tuple[torch.Tensor, int]:
    """Batched plain CG from p = 0; returns p (B, Ny, Nx) and the iterations of the slowest sim.

    Stopping uses the recursive residual as mantaflow does; float32 round-off can leave the true
    residual slightly above it, so CG is restarted from the current p on the true residual
    (at most twice) until the true max-norm residual, i.e. the divergence, is within ``tol``.
    """
    x = torch.zeros_like(rhs)
    total = 0
    for _restart in range(3):
        r = rhs - apply_laplacian(x) if total else rhs.clone()
        if total and float(r.abs().max()) <= tol:
            break
        x, iters = _cg_iterations(x.clone(), r, tol, max_iter - total)
        total += iters
        if total >= max_iter:
            break
    return x, total


def _cg_iterations(x: torch.Tensor, r: torch.Tensor, tol: float,
                   max_iter: int) -> tuple[torch.Tensor, int]:
    d = r.clone()
    rr = _dot(r, r)
    iters = 0
    for iters in range(max_iter + 1):
        active = r.abs().amax(dim=(-2, -1)) > tol            # (B,) per-simulation stopping
        if iters == max_iter or not bool(active.any()):
            break
        ad = apply_laplacian(d)
        dad = _dot(d, ad)
        alpha = torch.where(active, rr / torch.where(active, dad, torch.ones_like(dad)), 0.0)
        alpha = alpha[:, None, None]                         # (B, 1, 1)
        x.addcmul_(alpha, d)
        r.addcmul_(alpha, ad, value=-1.0)
        rr_new = _dot(r, r)
        beta = torch.where(active, rr_new / torch.where(active, rr, torch.ones_like(rr)), 0.0)
        d = torch.addcmul(r, beta[:, None, None], d)
        rr = rr_new
    return x, iters


class FastPoisson:
    """Exact solve of A p = rhs by DST-I in y and DCT-II in x (orthonormal bases, cached)."""

    def __init__(self, ny: int, nx: int, device, dtype=torch.float32):
        j = torch.arange(ny, dtype=torch.float64)
        k = torch.arange(nx, dtype=torch.float64)
        # DST-I: S[m, j] = sqrt(2/(Ny+1)) sin(pi (m+1)(j+1)/(Ny+1)), eigenvalue 2 - 2 cos(pi (m+1)/(Ny+1))
        s = math.sqrt(2.0 / (ny + 1)) * torch.sin(math.pi * (j[:, None] + 1) * (j[None, :] + 1) / (ny + 1))
        lam_y = 2 - 2 * torch.cos(math.pi * (j + 1) / (ny + 1))
        # DCT-II: C[m, i] = c_m cos(pi m (i + 1/2) / Nx), eigenvalue 2 - 2 cos(pi m / Nx)
        c = torch.cos(math.pi * k[:, None] * (k[None, :] + 0.5) / nx) * math.sqrt(2.0 / nx)
        c[0] /= math.sqrt(2.0)
        lam_x = 2 - 2 * torch.cos(math.pi * k / nx)
        self.s = s.to(device, dtype)                         # (Ny, Ny), symmetric, its own inverse
        self.c = c.to(device, dtype)                         # (Nx, Nx), rows = basis vectors
        self.inv_lam = (1.0 / (lam_y[:, None] + lam_x[None, :])).to(device, dtype)  # (Ny, Nx)

    def solve_exact(self, rhs: torch.Tensor) -> torch.Tensor:
        hat = self.s @ rhs @ self.c.T                        # (B, Ny, Nx) spectral coefficients
        return self.s @ (hat * self.inv_lam) @ self.c

    def solve(self, rhs: torch.Tensor, tol: float) -> tuple[torch.Tensor, int]:
        p = self.solve_exact(rhs)
        passes = 1
        while passes < 4:
            res = rhs - apply_laplacian(p)
            if float(res.abs().max()) <= 0.1 * tol:
                break
            p = p + self.solve_exact(res)
            passes += 1
        return p, passes


class Projector:
    """Makes a MAC velocity divergence-free (to ``tol``) on ``domain``; batched, in place."""

    def __init__(self, domain: Domain, solver: str, tol: float, dtype=torch.float32):
        self.domain, self.solver, self.tol = domain, solver, tol
        n = domain.size
        self.ny, self.nx = n - 2 * OPEN_ROWS, n - 2 * WALL_COLS
        self.max_iter = 2 * 4 * n                            # mantaflow: cgMaxIterFac 2 (notes)
        self.fast = FastPoisson(self.ny, self.nx, domain.device, dtype) if solver == "fast" else None
        self.last_iterations = 0

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        if self.fast is not None:
            p, self.last_iterations = self.fast.solve(rhs, self.tol)
        else:
            p, self.last_iterations = solve_cg(rhs, self.tol, self.max_iter)
        return p

    def project(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Subtract the pressure gradient from u (B, H, W+1), v (B, H+1, W); returns p (B, H, W)."""
        dom = self.domain
        rows, cols = dom.fluid_rows, dom.fluid_cols
        rhs = -divergence(u, v)[:, rows, cols]               # (B, Ny, Nx)
        p_fluid = self.solve(rhs)
        p = torch.zeros(u.shape[0], dom.size, dom.size, device=u.device, dtype=u.dtype)
        p[:, rows, cols] = p_fluid                           # 0 in open (Dirichlet) and wall cells
        grad_x = p[..., 1:] - p[..., :-1]                    # faces 1..W-1, (B, H, W-1)
        grad_y = p[..., 1:, :] - p[..., :-1, :]              # faces 1..H-1, (B, H-1, W)
        u[..., 1:-1] -= torch.where(dom.u_fluid[:, 1:-1], grad_x, 0.0)
        v[..., 1:-1, :] -= torch.where(dom.v_project[1:-1], grad_y, 0.0)
        return p


def max_fluid_divergence(u: torch.Tensor, v: torch.Tensor, domain: Domain) -> torch.Tensor:
    """Max |div u| over fluid cells per simulation (B,), faces to open cells included."""
    div = divergence(u, v)
    return torch.where(domain.cell_fluid, div.abs(), 0.0).amax(dim=(-2, -1))
