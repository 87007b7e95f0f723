using NormSharp.Nn;
using static NormSharp.Tests.NormTestUtil;

namespace NormSharp.Tests;

/// <summary>
/// GhostBatchNorm1d/2d: virtualBatchSize = N (or more) is BatchNorm bit for bit; smaller chunks are BatchNorm applied to
/// each chunk in turn (outputs, input gradient, summed parameter gradients, running statistics and the count), in both
/// layouts, with a remainder chunk; gradient checks; evaluation; bad input.
/// </summary>
public class GhostBatchNormTests
{
    private static BatchNormBase BatchNorm(int rank, int channels, int channelAxis, double? momentum) =>
        rank == 4 ? new BatchNorm2d(channels, momentum: momentum, channelAxis: channelAxis) : new BatchNorm1d(channels, momentum: momentum, channelAxis: channelAxis);

    private static GhostBatchNormBase Ghost(int rank, int channels, int virtualBatchSize, int channelAxis, double? momentum) =>
        rank == 4
            ? new GhostBatchNorm2d(channels, virtualBatchSize, momentum: momentum, channelAxis: channelAxis)
            : new GhostBatchNorm1d(channels, virtualBatchSize, momentum: momentum, channelAxis: channelAxis);

    private static void SameParameters(BatchNormBase from, BatchNormBase to, int seed)
    {
        new Generator(seed).FillNormal(from.Weight!.AsSpan(), 1, 0.5);
        new Generator(seed + 1).FillNormal(from.Bias!.AsSpan());
        from.Weight.AsSpan().CopyTo(to.Weight!.AsSpan());
        from.Bias.AsSpan().CopyTo(to.Bias!.AsSpan());
    }

    public static TheoryData<int[], int, int, int, string> ChunkCases() => new()
    {
        // shape, channel axis, virtual batch size, expected chunks, momentum
        { [8, 3], 1, 8, 1, "0.1" },
        { [8, 3], 1, 64, 1, "0.1" },
        { [8, 3], 1, 4, 2, "0.1" },
        { [8, 3, 5], 1, 4, 2, "null" },
        { [8, 5, 3], -1, 4, 2, "0.3" },
        { [6, 2, 3, 3], 1, 3, 2, "0.1" },
        { [6, 3, 2, 2], -1, 2, 3, "null" },
        { [7, 2, 2, 2], 1, 3, 3, "0.1" },   // torch.split: 3 + 3 + 1
        { [7, 4], 1, 2, 4, "0.1" },         // 2 + 2 + 2 + 1 ... one sample of (N, C) is refused; see below
    };

    [Theory]
    [MemberData(nameof(ChunkCases))]
    public void Each_chunk_is_batch_norm_on_that_chunk_in_turn(int[] shape, int channelAxis, int virtualBatchSize, int chunks, string momentum)
    {
        int channels = shape[channelAxis == 1 ? 1 : ^1];
        double? m = momentum == "null" ? null : double.Parse(momentum, System.Globalization.CultureInfo.InvariantCulture);
        var ghost = Ghost(shape.Length, channels, virtualBatchSize, channelAxis, m);
        var batchNorm = BatchNorm(shape.Length, channels, channelAxis, m);
        SameParameters(batchNorm, ghost, shape.Sum());
        int samples = shape[0];
        if (shape.Length == 2 && samples % virtualBatchSize == 1)
        {
            var error = Assert.Throws<ArgumentException>(() => ghost.Forward(Tensor.Zeros(shape)));
            Assert.Contains($"virtualBatchSize {virtualBatchSize}", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, ghost.NumBatchesTracked);
            return;
        }
        for (int step = 0; step < 2; step++)
        {
            var x = Leaf(10 * step + shape.Sum(), 1, 2, shape);
            var upstream = Tensor.Randn(new Generator(step + 77), shape);
            ghost.ZeroGrad();
            var y = ghost.Forward(x);
            y.Backward(upstream);

            // The reference: BatchNorm on each chunk in turn, its own gradients summed.
            var expectedOutput = new List<float>();
            var expectedGradInput = new List<float>();
            var gradWeight = new double[channels];
            var gradBias = new double[channels];
            for (int start = 0; start < samples; start += virtualBatchSize)
            {
                int count = Math.Min(virtualBatchSize, samples - start);
                var chunk = x.Detach().Slice(start, count).Clone();
                chunk.RequiresGrad = true;
                batchNorm.ZeroGrad();
                var chunkOutput = batchNorm.Forward(chunk);
                chunkOutput.Backward(upstream.Slice(start, count).Clone());
                expectedOutput.AddRange(chunkOutput.ToArray());
                expectedGradInput.AddRange(chunk.Grad!.ToArray());
                for (int c = 0; c < channels; c++)
                {
                    gradWeight[c] += batchNorm.Weight!.Grad!.ToArray()[c];
                    gradBias[c] += batchNorm.Bias!.Grad!.ToArray()[c];
                }
            }
            Assert.Equal(expectedOutput.ToArray(), y.ToArray());
            Assert.Equal(expectedGradInput.ToArray(), x.Grad!.ToArray());
            Assert.Equal(gradWeight.Select(v => (float)v).ToArray(), ghost.Weight!.Grad!.ToArray());
            Assert.Equal(gradBias.Select(v => (float)v).ToArray(), ghost.Bias!.Grad!.ToArray());
            Assert.Equal(batchNorm.RunningMean!.ToArray(), ghost.RunningMean!.ToArray());
            Assert.Equal(batchNorm.RunningVar!.ToArray(), ghost.RunningVar!.ToArray());
            Assert.Equal(batchNorm.NumBatchesTracked, ghost.NumBatchesTracked);
            Assert.Equal(chunks * (step + 1), ghost.NumBatchesTracked);
        }
        ghost.Eval();
        batchNorm.Eval();
        var probe = Tensor.Randn(new Generator(99), shape);
        Assert.Equal(batchNorm.Forward(probe).ToArray(), ghost.Forward(probe).ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void Gradients_match_finite_differences(int channelAxis)
    {
        var ghost = new GhostBatchNorm2d(2, virtualBatchSize: 2, channelAxis: channelAxis);
        new Generator(3).FillNormal(ghost.Weight!.AsSpan(), 1, 0.5);
        new Generator(4).FillNormal(ghost.Bias!.AsSpan());
        var x = Leaf(5, 0, 1, channelAxis == 1 ? [5, 2, 2, 1] : [5, 2, 1, 2]);
        GradCheck.Check(t => ghost.Forward(t[0]), [x, ghost.Weight!, ghost.Bias!], seed: 6);
    }

    [Fact]
    public void The_fused_relu_equals_relu_after_the_forward_in_values_and_gradients()
    {
        var ghost = new GhostBatchNorm2d(3, virtualBatchSize: 2);
        var twin = new GhostBatchNorm2d(3, virtualBatchSize: 2);
        SameParameters(ghost, twin, 7);
        var x = Leaf(8, 0, 1, 5, 3, 2, 2);
        var x2 = x.Detach().Clone();
        x2.RequiresGrad = true;
        var upstream = Tensor.Randn(new Generator(9), x.Shape);
        var fused = new Sequential(ghost, new ReLU()).Forward(x);
        var separate = twin.Forward(x2).Relu();
        fused.Backward(upstream);
        separate.Backward(upstream);
        Assert.Equal(separate.ToArray(), fused.ToArray());
        Assert.Equal(x2.Grad!.ToArray(), x.Grad!.ToArray());
        Assert.Equal(twin.Weight!.Grad!.ToArray(), ghost.Weight!.Grad!.ToArray());
    }

    [Fact]
    public void Bad_virtual_batch_size_throws_naming_the_value()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new GhostBatchNorm1d(4, virtualBatchSize: 0));
        Assert.Contains("virtualBatchSize", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GhostBatchNorm2d(4, virtualBatchSize: -3));
        var rank = Assert.Throws<ArgumentException>(() => new GhostBatchNorm2d(4).Forward(Tensor.Zeros(4, 4)));
        Assert.Contains("GhostBatchNorm2d expected 4-D input (N, C, H, W), got 2-D input of shape [4, 4]", rank.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Describes_itself()
    {
        Assert.Equal("GhostBatchNorm2d(8, virtualBatchSize: 16, eps: 1E-05, momentum: 0.1, affine: True, trackRunningStats: True)", new GhostBatchNorm2d(8, 16).ToString());
    }
}
