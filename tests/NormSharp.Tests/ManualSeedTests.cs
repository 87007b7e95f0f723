using NormSharp.Data;
using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>Init.ManualSeed reseeds everything that draws from the default generator, as torch.manual_seed does.</summary>
public class ManualSeedTests
{
    private static (float[] Weights, float[] Mask, float[] Noise, int[] Order) Run(int seed)
    {
        Init.ManualSeed(seed);
        var layer = new Linear(4, 3);
        var mask = new Dropout(0.5).Forward(Tensor.Ones(16)).ToArray();
        var noise = Tensor.Randn(5).ToArray();
        var loader = new DataLoader(new Dataset(Tensor.Arange(10).Reshape(10, 1), [.. Enumerable.Range(0, 10)]), batchSize: 10, shuffle: true);
        return (layer.Weight.ToArray(), mask, noise, loader.First().Labels);
    }

    [Fact]
    public void The_same_seed_gives_the_same_initialization_dropout_noise_and_shuffle()
    {
        var first = Run(7);
        var again = Run(7);
        var other = Run(8);
        Assert.Equal(first.Weights, again.Weights);
        Assert.Equal(first.Mask, again.Mask);
        Assert.Equal(first.Noise, again.Noise);
        Assert.Equal(first.Order, again.Order);
        Assert.NotEqual(first.Weights, other.Weights);
        Assert.NotEqual(first.Mask, other.Mask);
        Assert.NotEqual(first.Noise, other.Noise);
        Assert.NotEqual(first.Order, other.Order);
    }
}
