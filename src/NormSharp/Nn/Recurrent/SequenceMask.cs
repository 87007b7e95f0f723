namespace NormSharp.Nn;

/// <summary>
/// Conversions between the two ways a padded batch of sequences says where each sequence ends: lengths (one per
/// sample, as PyTorch's <c>pack_padded_sequence</c> takes) and a mask (N, L) with 1 at valid positions and 0 at padding
/// (as <see cref="BatchNorm1d.Forward(Tensor, Tensor)"/> takes). Sequences are padded at the end.
/// </summary>
public static class SequenceMask
{
    /// <summary>The mask (N, L): row n is lengths[n] ones followed by zeros.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A length is negative or above <paramref name="maxLength"/>.</exception>
    public static Tensor FromLengths(int[] lengths, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        var mask = Tensor.Zeros(lengths.Length, maxLength);
        var m = mask.AsSpan();
        for (int n = 0; n < lengths.Length; n++)
        {
            if (lengths[n] < 0 || lengths[n] > maxLength)
            {
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[n], $"Length of sample {n} must be in [0, {maxLength}] (the padded length).");
            }
            m.Slice(n * maxLength, lengths[n]).Fill(1f);
        }
        return mask;
    }

    /// <summary>The length of each row of a mask (N, L): the number of leading ones.</summary>
    /// <exception cref="ArgumentException">The mask is not 2-D, holds values other than 0 and 1, or has a 1 after a 0
    /// (padding in the middle of a sequence).</exception>
    public static int[] Lengths(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.Rank != 2)
        {
            throw new ArgumentException($"A sequence mask must be 2-D (N, L), got shape {ShapeUtil.Format(mask.ShapeSpan)}.", nameof(mask));
        }
        int batch = mask.Size(0), length = mask.Size(1);
        var m = mask.Data;
        var lengths = new int[batch];
        for (int n = 0; n < batch; n++)
        {
            int count = 0;
            for (int l = 0; l < length; l++)
            {
                float value = m[n * length + l];
                if (value is not (0f or 1f))
                {
                    throw new ArgumentException($"A sequence mask holds 1 (valid) and 0 (padding) only, got {value} at [{n}, {l}].", nameof(mask));
                }
                if (value == 1f && count != l)
                {
                    throw new ArgumentException($"Sequence {n} of the mask has a valid position {l} after padding; sequences must be padded at the end.", nameof(mask));
                }
                count += (int)value;
            }
            lengths[n] = count;
        }
        return lengths;
    }
}
