using NormSharp.Functional;

namespace NormSharp.Tests;

public class SoftmaxTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    public void Softmax_matches_reference_and_log_softmax_is_its_log(int dim)
    {
        var x = Tensor.Randn(new Generator(4), 3, 4, 5) * 4f;
        var y = F.Softmax(x, dim).ToArray();
        var logY = F.LogSoftmax(x, dim).ToArray();
        var data = x.ToArray();
        int[] shape = [3, 4, 5];
        int d = dim < 0 ? dim + 3 : dim;
        int[] strides = [20, 5, 1];
        for (int flat = 0; flat < data.Length; flat++)
        {
            int coordinate = flat / strides[d] % shape[d];
            int start = flat - coordinate * strides[d];
            double max = double.NegativeInfinity, sum = 0;
            for (int s = 0; s < shape[d]; s++)
            {
                max = Math.Max(max, data[start + s * strides[d]]);
            }
            for (int s = 0; s < shape[d]; s++)
            {
                sum += Math.Exp(data[start + s * strides[d]] - max);
            }
            double expectedLog = data[flat] - max - Math.Log(sum);
            Assert.Equal(expectedLog, logY[flat], tolerance: 1e-5);
            Assert.Equal(Math.Exp(expectedLog), y[flat], tolerance: 1e-6);
        }
    }

    [Fact]
    public void Softmax_of_huge_logits_is_finite()
    {
        var y = F.Softmax(Tensor.FromArray([1e30f, 0f, -1e30f], 3)).ToArray();
        Assert.Equal(new float[] { 1, 0, 0 }, y);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void Gradients_match_finite_differences(int dim)
    {
        var x = GradCheck.RandomLeaf(5, 2, 4, 3);
        GradCheck.Check(t => F.Softmax(t[0], dim), [x]);
        GradCheck.Check(t => F.LogSoftmax(t[0], dim), [x]);
    }
}
