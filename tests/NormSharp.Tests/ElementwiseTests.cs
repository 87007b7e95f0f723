using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>The threaded copy and accumulation against plain loops, on short lengths and on lengths split into chunks.</summary>
public class ElementwiseTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 7, 8, 257, Elementwise.ChunkLength + 3, 300_001 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Copy_copies_every_element(int length)
    {
        var source = Random(length, 1);
        var destination = new float[length + 1];
        destination[length] = 42;
        Elementwise.Copy(source, destination.AsSpan(0, length));
        Assert.Equal(source, destination[..length]);
        Assert.Equal(42, destination[length]);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 5)]
    [InlineData(3, 7)]
    public void A_copy_past_the_streaming_size_copies_every_element_from_any_alignment(int destinationShift, int extra)
    {
        // The large copy's loop: with non-temporal stores from the first 32-byte boundary a head of up to 7 floats,
        // whole vectors, a tail.
        int length = (int)(Elementwise.StreamingBytes / sizeof(float)) + extra;
        var source = Random(length, 2);
        var destination = new float[length + destinationShift + 1];
        destination[^1] = 42;
        Elementwise.Copy(source, destination.AsSpan(destinationShift, length));
        Assert.True(source.AsSpan().SequenceEqual(destination.AsSpan(destinationShift, length)));
        Assert.Equal(42, destination[^1]);
        Assert.All(destination[..destinationShift], value => Assert.Equal(0f, value));
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(1, 13, true)]
    [InlineData(7, 9, true)]
    [InlineData(0, 0, false)]
    [InlineData(3, 13, false)]
    public unsafe void The_large_copy_loop_copies_every_element_with_either_kind_of_store(int destinationShift, int length, bool streaming)
    {
        // Both store kinds on any CPU, whichever Copy picks here (Simd.NonTemporalStoresPay).
        length += 64;
        var source = Random(length, 3);
        var destination = new float[length + destinationShift + 1];
        destination[^1] = 42;
        fixed (float* from = source, to = destination)
        {
            Elementwise.CopyLarge(from, to + destinationShift, length, streaming);
        }
        Assert.True(source.AsSpan().SequenceEqual(destination.AsSpan(destinationShift, length)));
        Assert.Equal(42, destination[^1]);
        Assert.All(destination[..destinationShift], value => Assert.Equal(0f, value));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void AddInPlace_adds_every_element(int length)
    {
        var source = Random(length, 2);
        var destination = Random(length, 3);
        var expected = new float[length];
        for (int i = 0; i < length; i++)
        {
            expected[i] = destination[i] + source[i];
        }
        Elementwise.AddInPlace(source, destination);
        Assert.Equal(expected, destination);
    }

    [Fact]
    public void Mismatched_lengths_throw()
    {
        var ex = Assert.Throws<ArgumentException>(() => Elementwise.Copy(new float[3], new float[4]));
        Assert.Contains("source has 3 elements, destination 4", ex.Message, StringComparison.Ordinal);
    }

    private static float[] Random(int length, int seed)
    {
        var values = new float[length];
        new Generator(seed).FillNormal(values);
        return values;
    }
}
