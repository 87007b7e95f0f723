using System.Globalization;
using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Batch normalization with everything fixed (torchvision's <c>ops.FrozenBatchNorm2d</c>): input (N, C, H, W),
/// y = (x − running_mean) / √(running_var + eps) · weight + bias per channel, in training mode too. Used to fine-tune
/// detection and segmentation backbones, whose per-device batches are too small to estimate statistics.
/// </summary>
/// <remarks>
/// <para><c>weight</c> (ones), <c>bias</c> (zeros), <c>running_mean</c> (zeros) and <c>running_var</c> (ones), shape [C],
/// are all buffers, not parameters: nothing here learns, <see cref="Module.Parameters"/> is empty, and only the input
/// gets a gradient. The state keys are <see cref="BatchNorm2d"/>'s, <c>num_batches_tracked</c> included (kept, never
/// changed), so a BatchNorm2d state dict loads strictly and a FrozenBatchNorm2d state dict loads back into a
/// BatchNorm2d. (torchvision drops <c>num_batches_tracked</c> when loading instead.)</para>
/// <para>To keep learning γ and β with fixed statistics, set <see cref="BatchNormBase.FreezeStatistics"/> on the batch
/// norm instead. <see cref="From"/> converts one layer, <see cref="Convert"/> a whole model.</para>
/// </remarks>
public sealed class FrozenBatchNorm2d : Module
{
    /// <summary>Creates the layer with weight 1, bias 0, running mean 0 and running variance 1.</summary>
    /// <param name="numFeatures">C, the number of channels.</param>
    /// <param name="eps">Added to the running variance inside the square root; default 1e-5 (torchvision's).</param>
    /// <exception cref="ArgumentOutOfRangeException">numFeatures negative, or eps negative or not finite.</exception>
    public FrozenBatchNorm2d(int numFeatures, double eps = 1e-5)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numFeatures);
        if (!(eps >= 0) || double.IsInfinity(eps))
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be finite and >= 0 (torchvision's default is 1e-5).");
        }
        NumFeatures = numFeatures;
        Eps = eps;
        Weight = RegisterBuffer("weight", Tensor.Ones(numFeatures))!;
        Bias = RegisterBuffer("bias", Tensor.Zeros(numFeatures))!;
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(numFeatures))!;
        RunningVar = RegisterBuffer("running_var", Tensor.Ones(numFeatures))!;
        RegisterCounter("num_batches_tracked", () => NumBatchesTracked, value => NumBatchesTracked = value);
    }

    /// <summary>C.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the running variance inside the square root.</summary>
    public double Eps { get; }

    /// <summary>γ (buffer <c>weight</c>), shape [C].</summary>
    public Tensor Weight { get; }

    /// <summary>β (buffer <c>bias</c>), shape [C].</summary>
    public Tensor Bias { get; }

    /// <summary>Buffer <c>running_mean</c>, shape [C].</summary>
    public Tensor RunningMean { get; }

    /// <summary>Buffer <c>running_var</c>, shape [C].</summary>
    public Tensor RunningVar { get; }

    /// <summary>The count the layer was converted or loaded with; it does not change here.</summary>
    public long NumBatchesTracked { get; set; }

    /// <summary>
    /// A frozen copy of <paramref name="batchNorm"/> (detectron2's <c>convert_frozen_batchnorm</c> for one layer): its
    /// running statistics, eps and count, and its γ and β (ones and zeros when it has none). The result is in
    /// evaluation mode. BatchRenorm2d and GhostBatchNorm2d convert too: they evaluate as batch norm.
    /// </summary>
    /// <exception cref="ArgumentException">The layer has no running statistics, or is channels-last (FrozenBatchNorm2d reads (N, C, H, W)).</exception>
    public static FrozenBatchNorm2d From(BatchNormBase batchNorm)
    {
        ArgumentNullException.ThrowIfNull(batchNorm);
        if (batchNorm.RunningMean is null || batchNorm.RunningVar is null)
        {
            throw new ArgumentException(
                $"FrozenBatchNorm2d.From needs running statistics, but {batchNorm} was created with trackRunningStats: false.", nameof(batchNorm));
        }
        if (batchNorm.ChannelAxis != 1)
        {
            throw new ArgumentException(
                $"FrozenBatchNorm2d reads channels-first input (N, C, H, W); {batchNorm} has channelAxis {batchNorm.ChannelAxis}.", nameof(batchNorm));
        }
        var frozen = new FrozenBatchNorm2d(batchNorm.NumFeatures, batchNorm.Eps) { NumBatchesTracked = batchNorm.NumBatchesTracked };
        batchNorm.RunningMean.AsSpan().CopyTo(frozen.RunningMean.AsSpan());
        batchNorm.RunningVar.AsSpan().CopyTo(frozen.RunningVar.AsSpan());
        batchNorm.Weight?.AsSpan().CopyTo(frozen.Weight.AsSpan());
        batchNorm.Bias?.AsSpan().CopyTo(frozen.Bias.AsSpan());
        frozen.Eval();
        return frozen;
    }

    /// <summary>
    /// Replaces every <see cref="BatchNorm2d"/>, <see cref="BatchRenorm2d"/> and <see cref="GhostBatchNorm2d"/> in
    /// <paramref name="model"/> by <see cref="From"/> of it, in place (detectron2's
    /// <c>FrozenBatchNorm2d.convert_frozen_batchnorm</c>), and returns the model, or the frozen layer when
    /// <paramref name="model"/> is itself a batch norm. Layers are replaced inside <see cref="Sequential"/>s; a custom
    /// module that holds its layers in fields cannot have them swapped: freeze those with
    /// <see cref="BatchNormBase.FreezeStatistics"/> (and <c>RequiresGrad = false</c> on γ and β), which computes the same.
    /// </summary>
    /// <exception cref="NotSupportedException">A batch norm to convert sits in a module other than a Sequential (the message names its path).</exception>
    public static Module Convert(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (IsConvertible(model))
        {
            return From((BatchNormBase)model);
        }
        foreach (var (path, parent) in model.NamedModules().ToList())
        {
            foreach (var (name, child) in parent.NamedChildren().ToList())
            {
                if (IsConvertible(child) && !parent.TryReplaceChild(name, From((BatchNormBase)child)))
                {
                    string childPath = path.Length == 0 ? name : path + "." + name;
                    throw new NotSupportedException(
                        $"FrozenBatchNorm2d.Convert cannot replace \"{childPath}\" inside {parent.GetType().Name}, which keeps its layers in fields of its own; " +
                        "set FreezeStatistics = true (and RequiresGrad = false on its weight and bias) on that layer instead.");
                }
            }
        }
        return model;
    }

    private static bool IsConvertible(Module module) => module is BatchNorm2d or BatchRenorm2d or GhostBatchNorm2d;

    /// <summary>Normalizes (N, C, H, W) input with the fixed statistics and affine, in either mode.</summary>
    /// <exception cref="ArgumentException">Input not 4-D, or its channel count is not <see cref="NumFeatures"/>.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Size(1) != NumFeatures)
        {
            throw new ArgumentException(
                $"FrozenBatchNorm2d expected 4-D input (N, {NumFeatures}, H, W), got input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        return F.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, training: false, eps: Eps);
    }

    /// <inheritdoc/>
    public override string ToString() => $"FrozenBatchNorm2d({NumFeatures}, eps: {Eps.ToString(CultureInfo.InvariantCulture)})";
}
