r"""ChEES-HMC: an ensemble HMC sampler whose chains all take the same number of leapfrog steps.

Batched NUTS (:mod:`bayeslaws.batch`) ``vmap``-ed on an accelerator runs every lane in lockstep,
so each iteration lasts as long as the longest trajectory of the batch. ChEES-HMC (Hoffman, Radul
and Sountsov 2021) instead runs an *ensemble* of chains per fit that share one step size
:math:`\epsilon`, one trajectory length :math:`T` and one preconditioner, all adapted during
warm-up from the ensemble itself; every chain of a fit takes the same number of leapfrog steps
per iteration, so a ``vmap`` over chains wastes nothing, and a ``vmap`` over fits only masks the
fits whose (jittered) trajectory that iteration is shorter.

Each iteration of a fit (``C`` chains, position :math:`x_c`, preconditioner :math:`x = L z`):

1. trajectory length :math:`t_n = 2 h_n T` with :math:`h_n` the van der Corput (base-2 Halton)
   sequence, so that the lengths cover :math:`(0, 2T)` evenly with mean :math:`T`; number of
   leapfrog steps :math:`n = \lceil t_n / \epsilon \rceil` (at most :data:`MAX_STEPS`), the
   same for every chain;
2. momenta :math:`p_c \sim N(0, I)` in the preconditioned coordinates :math:`z = L^{-1} x`,
   :math:`n` leapfrog steps, Metropolis acceptance with probability
   :math:`a_c = \min(1, e^{-\Delta H_c})` (0 for a non-finite energy; a divergence is
   :math:`\Delta H_c > 1000` or non-finite, as in numpyro).

During the ``tune`` warm-up iterations (then frozen for the kept draws):

* **step size**: Nesterov dual averaging (Hoffman and Gelman 2014; :math:`\gamma = 0.05`,
  :math:`t_0 = 10`, :math:`\kappa = 0.75`) driving the *harmonic mean* of the chains'
  acceptance probabilities, :math:`C / \sum_c a_c^{-1}`, to ``target_accept`` (the paper's 0.651
  by default, :data:`TARGET_ACCEPT`): a step size that one chain finds too large is shrunk;
* **trajectory length**: Adam (:math:`\beta_1 = 0`, :math:`\beta_2 = 0.95`, learning rate
  0.025) on :math:`\log T`, ascending the ChEES criterion
  :math:`\tfrac14 E[(\lVert z' - E z'\rVert^2 - \lVert z - E z\rVert^2)^2]` (change in the
  ensemble's squared distance to its mean) through its per-chain gradient estimate

  .. math:: g_c = t_n\,(\lVert z'_c - \bar z'\rVert^2 - \lVert z_c - \bar z\rVert^2)\,
            \langle z'_c - \bar z', p'_c\rangle

  (proposals :math:`z'_c`, their momenta :math:`p'_c`), weighted by :math:`a_c`; the final
  :math:`T` is the dual-averaging-style iterate average of :math:`\log T`;
* **preconditioner**: at :data:`WINDOWS` (fractions of the warm-up) the ensemble's variances
  (or covariance with ``dense``) over the window just ended, regularised as Stan does
  (:math:`\tfrac{n}{n+5}\hat\Sigma + 10^{-3}\tfrac{5}{n+5} I`), become :math:`L L^\top`; the
  step size's dual averaging restarts there. The first window starts from ``inv_mass0``;
* **early warm-up**: until the first window's end each chain adapts its own step size (same
  number of steps), so that chains started far from the bulk reach it; at each window's end a
  chain whose potential is more than :data:`STRAGGLER` :math:`(1 + \sqrt{d/2})` above the
  ensemble's median (log-density mass :math:`e^{-10}` and less relative to the bulk) restarts at
  a random chain of the bulk. Warm-up only: the kept draws are plain HMC.

The sampler is pure JAX (jit, vmap, lax control flow), takes any potential
:math:`U(x; \text{data}) = -\log p(x \mid \text{data})` of a flat vector, and keeps exact
detailed balance after warm-up (fixed :math:`\epsilon`, :math:`T`, :math:`L`; the jitter is
independent of the state), so its draws target the same posterior as NUTS.

Reference: M. D. Hoffman, A. Radul and P. Sountsov, "An Adaptive MCMC Scheme for Setting
Trajectory Lengths in Hamiltonian Monte Carlo", AISTATS 2021.
"""

from __future__ import annotations

#: Default target of the harmonic-mean acceptance probability (Hoffman et al. 2021).
TARGET_ACCEPT = 0.651
#: Default chains per fit: the ensemble that estimates variances and the ChEES gradient.
CHAINS = 16
#: Most leapfrog steps of one trajectory (NUTS's tree depth 10 allows 1023).
MAX_STEPS = 1023
#: Warm-up fractions at which the preconditioner is re-estimated from the window just ended.
WINDOWS = (0.2, 0.4, 0.7)
#: Adam on log T: learning rate and second-moment decay (beta1 = 0, as in the paper).
LEARNING_RATE, BETA2 = 0.025, 0.95
#: A chain whose potential exceeds the ensemble's median by more than
#: ``STRAGGLER * (1 + sqrt(d / 2))`` at a window's end (warm-up only) restarts from a chain of the
#: bulk (sqrt(d / 2): the spread of the potential over a d-dimensional typical set).
STRAGGLER = 10.0
#: Energy error counted as a divergence.
DIVERGENCE = 1000.0


def halton(i):
    """The base-2 van der Corput number of the positive integer ``i`` (JAX), in (0, 1)."""
    import jax
    import jax.numpy as jnp

    def body(k, carry):
        n, f, r = carry
        f = f / 2.0
        r = r + f * (n % 2)
        return n // 2, f, r

    one = jnp.asarray(1.0, dtype=jnp.result_type(float))
    _, _, r = jax.lax.fori_loop(0, 32, body, (jnp.asarray(i, jnp.int32), one, 0.0 * one))
    return r


def window_ends(tune: int) -> tuple[int, ...]:
    """Warm-up iterations after which the preconditioner is re-estimated (increasing, unique)."""
    ends = sorted({int(round(f * tune)) for f in WINDOWS if 5 <= int(round(f * tune)) < tune})
    return tuple(ends)


def window_mids(tune: int) -> tuple[int, ...]:
    """Warm-up iterations where the variance accumulator restarts: the middle of each window,
    so the first half of a window (chains still settling) does not count."""
    bounds = (0,) + window_ends(tune)
    return tuple((a + b) // 2 for a, b in zip(bounds[:-1], bounds[1:]))


def make_sampler(potential, *, chains: int, draws: int, tune: int,
                 target_accept: float = TARGET_ACCEPT, dense: bool = False,
                 max_steps: int = MAX_STEPS, tick=None):
    """The ChEES-HMC run of one fit, as a pure JAX function (jit/vmap it as you like).

    Parameters
    ----------
    potential : callable
        ``potential(x, data) -> scalar``: minus the log-density of a flat vector ``x`` (d,).
    chains, draws, tune : int
        Ensemble size, kept iterations, warm-up iterations.
    target_accept : float
        Target of the harmonic mean of the chains' acceptance probabilities.
    dense : bool
        Adapt a dense preconditioner (ensemble covariance) instead of a diagonal one.
    max_steps : int
        Most leapfrog steps per trajectory.
    tick : callable, optional
        ``tick(i)`` is called (traced) at the start of iteration ``i`` (warm-up then draws), e.g.
        to feed a progress line from the compiled program.

    Returns
    -------
    callable
        ``run(key, x0, data, inv_mass0) -> (positions, stats)``: ``x0`` (chains, d) start points,
        ``inv_mass0`` (d,) initial diagonal inverse mass matrix; ``positions`` (draws, chains,
        d); ``stats`` = (diverging, n_steps, step_size, accept_prob, potential, energy), each
        (draws, chains), and the warm-up's leapfrog steps per chain (a scalar).
    """
    import jax
    import jax.numpy as jnp

    ends = window_ends(tune)
    mids = window_mids(tune)
    first = ends[0] if ends else 0  # iterations of per-chain step sizes
    value_and_grad = jax.vmap(jax.value_and_grad(potential), in_axes=(0, None))

    def to_x(L, z):
        return z @ L.T if dense else z * L

    def to_z(L, x):
        if dense:
            return jax.scipy.linalg.solve_triangular(L, x.T, lower=True).T
        return x / L

    def grad_z(L, g):
        return g @ L if dense else g * L

    def factor(var_or_cov):
        return jnp.linalg.cholesky(var_or_cov) if dense else jnp.sqrt(var_or_cov)

    def transition(key, x, u, g, eps, n, L, data):
        """One HMC transition of every chain: n leapfrog steps of size eps in z = L^-1 x."""
        z = to_z(L, x)
        p = jax.random.normal(key, z.shape, z.dtype)
        h0 = u + 0.5 * jnp.sum(p * p, axis=-1)
        gz = grad_z(L, g)
        e = jnp.reshape(eps, (-1, 1))  # one step size, or one per chain (early warm-up)

        def step(carry):
            i, z, p, u, gz = carry
            p = p - 0.5 * e * gz
            z = z + e * p
            u, g = value_and_grad(to_x(L, z), data)
            gz = grad_z(L, g)
            p = p - 0.5 * e * gz
            return i + 1, z, p, u, gz

        _, z1, p1, u1, gz1 = jax.lax.while_loop(lambda c: c[0] < n, step, (0, z, p, u, gz))
        h1 = u1 + 0.5 * jnp.sum(p1 * p1, axis=-1)
        delta = h1 - h0
        delta = jnp.where(jnp.isfinite(delta), delta, jnp.inf)
        accept = jnp.minimum(1.0, jnp.exp(-delta))
        divergent = delta > DIVERGENCE
        ukey = jax.random.fold_in(key, 1)
        take = jax.random.uniform(ukey, accept.shape, accept.dtype) < accept
        x1 = to_x(L, z1)
        # the gradient in x of the proposal: g = L^-T gz
        g1 = to_z(L, gz1) if not dense else jax.scipy.linalg.solve_triangular(
            L.T, gz1.T, lower=False).T
        new_x = jnp.where(take[:, None], x1, x)
        new_u = jnp.where(take, u1, u)
        new_g = jnp.where(take[:, None], g1, g)
        energy = jnp.where(take, h1, h0)
        return (new_x, new_u, new_g), (z, z1, p1, accept, divergent, energy)

    def n_steps(eps, T, i):
        t = 2.0 * halton(i + 1) * T
        return jnp.clip(jnp.ceil(t / eps), 1, max_steps).astype(jnp.int32)

    def run(key, x0, data, inv_mass0):
        dtype = x0.dtype
        d = x0.shape[-1]
        L = jnp.diag(jnp.sqrt(inv_mass0)) if dense else jnp.sqrt(inv_mass0)
        u, g = value_and_grad(x0, data)
        log_eps0 = jnp.full(x0.shape[0], jnp.log(0.1), dtype)
        # dual averaging (mu, H_bar, log eps, log eps bar, t) and Adam (v, t) on log T
        da0 = (jnp.log(10.0) + log_eps0, 0.0 * log_eps0, log_eps0, log_eps0, 0.0 * log_eps0)
        zero = jnp.zeros((), dtype)
        log_T0 = jnp.log(jnp.asarray(0.4, dtype))
        mom0 = (jnp.zeros(d, dtype), jnp.zeros((d, d) if dense else d, dtype), zero)  # Welford
        carry = dict(x=x0, u=u, g=g, L=L, da=da0, log_T=log_T0, log_T_bar=log_T0,
                     adam=(zero, zero), mom=mom0, steps=zero)

        def warm(c, i):
            if tick is not None:
                tick(i)
            k = jax.random.fold_in(key, i)
            eps = jnp.exp(c["da"][2])                       # (chains,)
            T = jnp.exp(c["log_T"])
            n = n_steps(jnp.exp(jnp.median(c["da"][2])), T, i)
            (x, u, g), (z, z1, p1, a, div, _) = transition(k, c["x"], c["u"], c["g"], eps, n,
                                                          c["L"], data)
            # step size: dual averaging on the harmonic-mean acceptance
            mu, hbar, log_eps, log_eps_bar, t = c["da"]
            t = t + 1.0
            # early warm-up: each chain its own step size (stragglers far from the bulk get
            # there with small steps without holding the others back); then one for all
            hmean = 1.0 / jnp.mean(1.0 / (a + 1e-10))
            hmean = jnp.where(i < first, a, hmean)
            hbar = (1 - 1 / (t + 10.0)) * hbar + (target_accept - hmean) / (t + 10.0)
            log_eps = mu - jnp.sqrt(t) / 0.05 * hbar
            w = t ** -0.75
            log_eps_bar = w * log_eps + (1 - w) * log_eps_bar
            da = (mu, hbar, log_eps, log_eps_bar, t)
            # trajectory length: Adam ascent of ChEES in log T
            ok = jnp.isfinite(z1).all(axis=-1) & ~div
            aw = jnp.where(ok, a, 0.0)
            z1s = jnp.where(ok[:, None], z1, z)
            p1s = jnp.where(ok[:, None], p1, 0.0)
            c0, c1 = z - z.mean(0), z1s - z1s.mean(0)
            t_n = n.astype(dtype) * eps
            mid_eps = jnp.median(log_eps)
            gc = t_n * (jnp.sum(c1 * c1, -1) - jnp.sum(c0 * c0, -1)) * jnp.sum(c1 * p1s, -1)
            grad = jnp.sum(aw * gc) / (jnp.sum(aw) + 1e-20)
            v, s = c["adam"]
            good = jnp.isfinite(grad)
            grad = jnp.where(good, grad, 0.0)
            s1 = s + 1.0
            v1 = BETA2 * v + (1 - BETA2) * grad * grad
            upd = LEARNING_RATE * grad / (jnp.sqrt(v1 / (1 - BETA2 ** s1)) + 1e-8)
            log_T = jnp.where(good, c["log_T"] + upd, c["log_T"])
            v, s = jnp.where(good, v1, v), jnp.where(good, s1, s)
            # T within [eps, max_steps * eps]
            log_T = jnp.clip(log_T, mid_eps, mid_eps + jnp.log(max_steps / 2.0))
            wT = (s + 1.0) ** -0.75
            log_T_bar = wT * log_T + (1 - wT) * c["log_T_bar"]
            # preconditioner: Welford over the chains' positions of this window
            m, M2, cnt = c["mom"]
            if mids:
                restart = jnp.any(jnp.asarray(mids) == i)
                m, M2, cnt = (jnp.where(restart, a0, a1) for a0, a1 in zip(mom0, (m, M2, cnt)))
            cnt1 = cnt + x.shape[0]
            dx = x - m
            m1 = m + dx.sum(0) / cnt1
            dx2 = x - m1
            M21 = M2 + (dx.T @ dx2 if dense else jnp.sum(dx * dx2, 0))
            out = dict(c, x=x, u=u, g=g, da=da, log_T=log_T, log_T_bar=log_T_bar,
                       adam=(v, s), mom=(m1, M21, cnt1), steps=c["steps"] + n)
            if ends:
                at_end = jnp.any(jnp.asarray(ends) == i + 1)

                good_key = jax.random.fold_in(k, 7)

                def new_window(o):
                    # stragglers (far below the bulk's log-density: a start in a region of no
                    # mass, e.g. a collapsed noise scale) restart at a random chain of the bulk
                    u = o["u"]
                    bad = u > jnp.median(u) + STRAGGLER * (1.0 + jnp.sqrt(d / 2.0))
                    bad = bad | ~jnp.isfinite(u)
                    order = jnp.argsort(jnp.where(bad, jnp.inf, u))
                    n_good = jnp.maximum(1, jnp.sum(~bad))
                    src = order[jax.random.randint(good_key, u.shape, 0, n_good)]
                    src = jnp.where(bad, src, jnp.arange(u.shape[0]))
                    o = dict(o, x=o["x"][src], u=u[src], g=o["g"][src])
                    m, M2, cnt = o["mom"]
                    cov = M2 / (cnt - 1.0)
                    reg = 1e-3 * 5.0 / (cnt + 5.0)
                    eye = jnp.eye(d, dtype=dtype) if dense else jnp.ones(d, dtype)
                    cov = cnt / (cnt + 5.0) * cov + reg * eye
                    L_new = factor(cov)
                    okL = jnp.all(jnp.isfinite(L_new))
                    # not at the end of the first window (per-chain steps, stragglers included)
                    L_new = jnp.where(okL & (i + 1 != ends[0]), L_new, o["L"])
                    # step size: restart dual averaging from the averaged step size, rescaled
                    # by the change in scale of the preconditioner
                    le = jnp.full_like(o["da"][3], jnp.median(o["da"][3]))
                    da_new = (jnp.log(10.0) + le, 0.0 * le, le, le, 0.0 * le)
                    return dict(o, L=L_new, da=da_new, mom=mom0)

                out = jax.lax.cond(at_end, new_window, lambda o: o, out)
            return out, None

        if tune > 0:
            carry, _ = jax.lax.scan(warm, carry, jnp.arange(tune))
        eps = jnp.exp(jnp.median(carry["da"][3]))
        T = jnp.exp(carry["log_T_bar"])
        L = carry["L"]

        def keep(c, i):
            if tick is not None:
                tick(tune + i)
            x, u, g = c
            k = jax.random.fold_in(key, tune + i)
            n = n_steps(eps, T, tune + i)
            (x, u, g), (_, _, _, a, div, energy) = transition(k, x, u, g, eps, n, L, data)
            nn = jnp.broadcast_to(n, a.shape)
            return (x, u, g), (x, div, nn, jnp.broadcast_to(eps, a.shape), a, u, energy)

        _, out = jax.lax.scan(keep, (carry["x"], carry["u"], carry["g"]), jnp.arange(draws))
        return out[0], out[1:], carry["steps"]

    return run
