"""Logit and feature distillation losses for heatmap and SimCC outputs."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

# A head output: heatmaps (B, K, H, W) or SimCC logits ((B, K, Wx), (B, K, Wy)).
HeadOutput = Union[Tensor, Tuple[Tensor, Tensor]]


def resample_axis(x: Tensor, size: int, dim: int) -> Tensor:
    """Linearly resample ``x`` along ``dim`` to ``size`` samples.

    Both MSRA heatmaps and SimCC vectors place sample ``i`` of ``L`` at
    ``i / L`` of the input width (not at the pixel centre ``(i + 0.5) / L``,
    which is what ``F.interpolate(align_corners=False)`` assumes), so sample
    ``j`` of the output reads position ``j * L / size`` of the input. This
    keeps teacher and student outputs aligned in normalised coordinates.

    Args:
        x: Any tensor.
        size: Output length along ``dim``.
        dim: Axis to resample.

    Returns:
        Tensor: ``x`` with ``x.shape[dim] == size``.
    """
    length = x.shape[dim]
    if length == size:
        return x
    pos = torch.arange(size, device=x.device, dtype=x.dtype) * (length / size)
    lo = pos.floor().long().clamp(max=length - 1)
    hi = (lo + 1).clamp(max=length - 1)
    frac = (pos - lo.to(x.dtype)).clamp(0, 1)
    shape = [1] * x.dim()
    shape[dim] = size
    frac = frac.view(shape)
    return x.index_select(dim, lo) * (1 - frac) + x.index_select(dim, hi) * frac


def is_simcc(output: HeadOutput) -> bool:
    """True for SimCC logits (a pair of (B, K, L) tensors)."""
    return isinstance(output, (tuple, list)) and len(output) == 2


def heatmap_to_profiles(heatmaps: Tensor) -> Tuple[Tensor, Tensor]:
    """Heatmaps (B, K, H, W) -> x / y profiles ((B, K, W), (B, K, H)).

    The max over the other axis of a Gaussian heatmap is a 1D Gaussian with
    the same peak and width: the shape SimCC logits are trained towards.
    """
    return heatmaps.amax(dim=2), heatmaps.amax(dim=3)


def gaussian_render(prob: Tensor, size: int, sigma: float) -> Tensor:
    """Render a 1D distribution on a coarser or finer grid as a sum of
    Gaussians.

    ``out[j] = sum_i prob[i] * exp(-(j - i * size / L)**2 / (2 sigma**2))``:
    a sharp distribution becomes the MSRA target profile (peak ~1, width
    ``sigma``) at the new grid; an uncertain one becomes lower and wider.
    Point-sampling would alias a distribution narrower than the new grid's
    spacing instead.

    Args:
        prob: (..., L) probabilities on an L-sample grid.
        size: Samples of the output grid.
        sigma: Gaussian width in output samples.

    Returns:
        Tensor: (..., size).
    """
    length = prob.shape[-1]
    src = torch.arange(length, device=prob.device, dtype=prob.dtype) * (size / length)
    dst = torch.arange(size, device=prob.device, dtype=prob.dtype)
    kernel = torch.exp(-(dst[None, :] - src[:, None])**2 / (2 * sigma**2))
    return prob @ kernel


def simcc_to_heatmap(x: Tensor, y: Tensor, size_hw: Tuple[int, int], sigma: float,
                     beta: float) -> Tensor:
    """SimCC logits ((B, K, Lx), (B, K, Ly)) -> heatmaps (B, K, H, W).

    The x / y distributions (``softmax(beta * logits)``) are rendered on the
    heatmap grid with :func:`gaussian_render` and multiplied (SimCC treats
    the axes as independent), so a confident teacher gives the student's
    usual Gaussian target of peak ~1.
    """
    h, w = size_hw
    hx = gaussian_render(F.softmax(x * beta, dim=-1), w, sigma)
    hy = gaussian_render(F.softmax(y * beta, dim=-1), h, sigma)
    return hy.unsqueeze(-1) * hx.unsqueeze(-2)


@MODELS.register_module()
class LogitDistillLoss(nn.Module):
    """Distil a teacher's head outputs into a student's, across output types.

    The teacher's output is turned into the student's format first:

    - heatmap -> heatmap: resampled to the student's heatmap size, MSE.
    - SimCC -> SimCC: each vector resampled to the student's number of bins,
      KL divergence between temperature-softened distributions.
    - heatmap -> SimCC: max-profiles of the heatmaps (1D Gaussians like SimCC
      targets), resampled, then KL as above.
    - SimCC -> heatmap: x / y distributions rendered as Gaussians of width
      ``heatmap_sigma`` on the student's grid, outer product, MSE.

    Args:
        loss_weight: Multiplier of the loss.
        temperature: Softens both SimCC distributions; the KL term is
            multiplied by ``temperature ** 2`` to keep gradient scale.
        simcc_beta: Scale applied to SimCC logits before the softmax, as
            MMPose's ``KLDiscretLoss`` does (its ``beta``; logits are trained
            to Gaussian profiles of peak ~1).
        heatmap_sigma: Gaussian width (student heatmap pixels) used to
            render a SimCC teacher for a heatmap student; use the student
            codec's ``sigma``.
        heatmap_scale: Multiplier of the heatmap MSE, whose values are small
            (``KeypointMSELoss`` scales by 1 too; raise it to balance it
            against a SimCC task loss).

    Note:
        Inputs are heatmaps (B, K, H, W) or SimCC pairs ((B, K, Wx),
        (B, K, Wy)); resolutions may differ between student and teacher, the
        number of keypoints K may not. ``weights`` is (B, K).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 temperature: float = 1.0,
                 simcc_beta: float = 10.0,
                 heatmap_sigma: float = 2.0,
                 heatmap_scale: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.temperature = temperature
        self.simcc_beta = simcc_beta
        self.heatmap_sigma = heatmap_sigma
        self.heatmap_scale = heatmap_scale

    def forward(self,
                student: HeadOutput,
                teacher: HeadOutput,
                weights: Optional[Tensor] = None) -> Tensor:
        if is_simcc(student):
            if is_simcc(teacher):
                tx, ty = teacher
            else:
                tx, ty = heatmap_to_profiles(teacher)
            sx, sy = student
            tx = resample_axis(tx, sx.shape[-1], -1)
            ty = resample_axis(ty, sy.shape[-1], -1)
            loss = self._kl(sx, tx, weights) + self._kl(sy, ty, weights)
        else:
            h, w = student.shape[-2:]
            if is_simcc(teacher):
                target = simcc_to_heatmap(teacher[0], teacher[1], (h, w), self.heatmap_sigma,
                                          self.simcc_beta / self.temperature)
            else:
                target = resample_axis(resample_axis(teacher, h, -2), w, -1)
            err = ((student - target)**2).mean(dim=(-2, -1))  # (B, K)
            loss = self._weighted_mean(err, weights) * self.heatmap_scale
        return loss * self.loss_weight

    def _kl(self, student: Tensor, teacher: Tensor,
            weights: Optional[Tensor]) -> Tensor:
        """KL(teacher || student) per keypoint (B, K), weighted mean."""
        scale = self.simcc_beta / self.temperature
        log_p = F.log_softmax(student * scale, dim=-1)
        q = F.softmax(teacher * scale, dim=-1)
        kl = (q * (q.clamp_min(1e-12).log() - log_p)).sum(-1)
        return self._weighted_mean(kl, weights) * self.temperature**2

    @staticmethod
    def _weighted_mean(err: Tensor, weights: Optional[Tensor]) -> Tensor:
        if weights is None:
            return err.mean()
        return (err * weights).sum() / weights.sum().clamp_min(1e-6)


@MODELS.register_module()
class FeatureDistillLoss(nn.Module):
    """MSE between a teacher feature map and a learned 1x1 projection of the
    student's.

    The student feature is projected to the teacher's channels and, when the
    spatial sizes differ, bilinearly resized to the teacher's size, so the
    teacher's target is never altered. The projection is trained with the
    student and dropped by ``tools/convert_kd_ckpt.py``.

    With ``normalize`` both maps are standardised per channel over the batch
    and the positions first, and the MSE is halved, as in MMRazor's
    ``PKDLoss`` (Pearson-correlation distillation, Cao et al., 2022): the
    loss is then 1 - the mean channel correlation, in [0, 2], whatever the
    teacher's feature scale, so one weight fits any teacher.

    Args:
        student_channels: Channels C_s of the student feature.
        teacher_channels: Channels C_t of the teacher feature.
        loss_weight: Multiplier of the loss.
        normalize: Standardise both maps per channel (PKD) before the MSE.

    Note:
        Inputs are (B, C_s, h_s, w_s) and (B, C_t, h_t, w_t).
    """

    def __init__(self, student_channels: int, teacher_channels: int,
                 loss_weight: float = 1.0, normalize: bool = False) -> None:
        super().__init__()
        self.align = nn.Conv2d(student_channels, teacher_channels, 1)
        self.loss_weight = loss_weight
        self.normalize = normalize

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        aligned = self.align(student)
        if aligned.shape[-2:] != teacher.shape[-2:]:
            aligned = F.interpolate(aligned, size=teacher.shape[-2:],
                                    mode='bilinear', align_corners=False)
        if not self.normalize:
            return F.mse_loss(aligned, teacher) * self.loss_weight
        return F.mse_loss(standardise(aligned), standardise(teacher)) / 2 * self.loss_weight


def standardise(feat: Tensor, eps: float = 1e-6) -> Tensor:
    """Zero mean, unit standard deviation per channel of (B, C, H, W) over
    the batch and the positions."""
    mean = feat.mean(dim=(0, 2, 3), keepdim=True)
    std = feat.std(dim=(0, 2, 3), keepdim=True)
    return (feat - mean) / (std + eps)
