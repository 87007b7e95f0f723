using System.Globalization;

namespace NormSharp.Nn;

/// <summary>
/// A one-element tensor that carries an exact 64-bit integer: how state dicts hold integer state such
/// as batch norm's <c>num_batches_tracked</c> (an int64 scalar in PyTorch) or an optimizer's step count.
/// </summary>
/// <remarks>
/// <see cref="Tensor"/> is float32, which is exact only up to 2^24; <see cref="Value"/> is the exact
/// integer and is what <see cref="Module.LoadStateDict"/> and the checkpoint writer (dtype I64) use.
/// The float element is <c>(float)Value</c>, so arithmetic and printing still work; writing through
/// <see cref="Tensor.AsSpan"/> does not change <see cref="Value"/>. Shape is [] (PyTorch's) or [1]
/// (what some other tools write).
/// </remarks>
public sealed class Int64Scalar : Tensor
{
    /// <summary>Creates the scalar; <paramref name="vector"/> selects shape [1] instead of [].</summary>
    public Int64Scalar(long value, bool vector = false)
        : base([value], vector ? [1] : [])
    {
        Value = value;
    }

    /// <summary>The exact integer value.</summary>
    public long Value { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"Int64Scalar{ShapeUtil.Format(ShapeSpan)} {Value.ToString(CultureInfo.InvariantCulture)}";
}
