namespace NormSharp.Kernels;

/// <summary>
/// Argument checks shared by the normalization kernels and layers: views, per-channel vectors and eps. Every check
/// throws an <see cref="ArgumentException"/> (or <see cref="ArgumentOutOfRangeException"/>) that names the argument,
/// the expected and the actual value.
/// </summary>
internal static class NormChecks
{
    /// <summary>A buffer of <paramref name="length"/> elements must hold the view [outer, channels, inner].</summary>
    public static void CheckView(int length, int outer, int channels, int inner, string name)
    {
        if (outer < 0 || channels < 0 || inner < 0 || (long)outer * channels * inner != length)
        {
            throw new ArgumentException(
                $"{name} has {length} elements but the view [outer {outer}, channels {channels}, inner {inner}] needs {(long)outer * channels * inner}.", name);
        }
    }

    /// <summary>A per-channel vector must have one element per channel.</summary>
    public static void CheckLength(int length, int expected, string name)
    {
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements, expected {expected} (one per channel).", name);
        }
    }

    /// <summary>An optional per-channel vector (weight, bias, a gradient nobody needs) is empty or has one element per channel.</summary>
    public static void CheckOptional(int length, int expected, string name)
    {
        if (length != 0 && length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements, expected {expected} (one per channel) or none.", name);
        }
    }

    /// <summary>
    /// The arguments of a per-channel kernel: input and a second buffer (its output, or gradOutput) of the view
    /// [outer, channels, inner], mean and invStd per channel, optional weight and bias (length 0 for none).
    /// </summary>
    public static void CheckChannelArguments(
        int outer, int channels, int inner, int inputLength, int otherLength, string otherName,
        int meanLength, int invStdLength, int weightLength, int biasLength)
    {
        CheckView(inputLength, outer, channels, inner, "input");
        CheckView(otherLength, outer, channels, inner, otherName);
        CheckLength(meanLength, channels, "mean");
        CheckLength(invStdLength, channels, "invStd");
        CheckOptional(weightLength, channels, "weight");
        CheckOptional(biasLength, channels, "bias");
    }

    /// <summary>The destinations of a backward, each empty when nobody needs it: gradInput of the view, gradWeight and gradBias per channel.</summary>
    public static void CheckGradients(int outer, int channels, int inner, int gradInputLength, int gradWeightLength, int gradBiasLength)
    {
        if (gradInputLength != 0)
        {
            CheckView(gradInputLength, outer, channels, inner, "gradInput");
        }
        CheckOptional(gradWeightLength, channels, "gradWeight");
        CheckOptional(gradBiasLength, channels, "gradBias");
    }

    /// <summary>Running statistics are both empty (not tracked) or both one per channel.</summary>
    public static void CheckRunning(int meanLength, int varianceLength, int channels)
    {
        if (meanLength != 0 || varianceLength != 0)
        {
            CheckLength(meanLength, channels, "runningMean");
            CheckLength(varianceLength, channels, "runningVar");
        }
    }

    /// <summary>
    /// eps, added to the variance inside the square root, must be finite and non-negative (PyTorch's default is 1e-5);
    /// <paramref name="layer"/> names the caller in the message.
    /// </summary>
    public static void CheckEps(double eps, string layer)
    {
        if (!(eps >= 0) || double.IsInfinity(eps))
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{layer} needs a finite eps >= 0 (PyTorch's default is 1e-5), got {eps}.");
        }
    }
}
