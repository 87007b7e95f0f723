namespace NormSharp.Onnx;

/// <summary>Settings of <see cref="OnnxExport"/>.</summary>
/// <remarks>
/// The opset decides how some layers are written: LayerNorm is one LayerNormalization node from opset 17,
/// GELU one Gelu node from 20, GroupNorm one GroupNormalization node (per-channel scale and bias) from 21 and RMSNorm
/// one RMSNormalization node from 23; below those opsets each is written as its formula in elementary ops
/// (ReduceMean, Sub, Mul, Div, Sqrt, Erf). BatchNormalization has opset-15 semantics throughout.
/// </remarks>
public sealed record OnnxExportOptions
{
    /// <summary>The lowest opset the exporter writes.</summary>
    public const int MinimumOpset = 15;

    /// <summary>The highest opset the exporter writes.</summary>
    public const int MaximumOpset = 23;

    /// <summary>The default-domain opset, from <see cref="MinimumOpset"/> to <see cref="MaximumOpset"/>; default 17
    /// (LayerNormalization as one node, read by every current runtime).</summary>
    public int Opset { get; init; } = 17;

    /// <summary>
    /// Folds each batch norm with running statistics (BatchNorm, BatchRenorm, GhostBatchNorm, or FrozenBatchNorm2d after
    /// a Conv2d) that directly follows a Conv2d or Linear in a <see cref="Nn.Sequential"/> and normalizes its output
    /// channels into that layer's weight and bias with <see cref="Nn.Fusion"/>: W' = W · γ / √(var + eps),
    /// b' = (b − mean) · γ / √(var + eps) + β, computed in double. Default false.
    /// </summary>
    public bool FoldBatchNorm { get; init; }

    /// <summary>The name of the graph's input; default "input".</summary>
    public string InputName { get; init; } = "input";

    /// <summary>The name of the graph's output; default "output".</summary>
    public string OutputName { get; init; } = "output";

    /// <summary>The ONNX IR version written with <see cref="Opset"/>: the lowest that defines it
    /// (opset 15-18 → IR 8, 19-20 → 9, 21-22 → 10, 23 → 11), so that older readers accept the file.</summary>
    public int IrVersion => Opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        <= 22 => 10,
        _ => 11,
    };
}
