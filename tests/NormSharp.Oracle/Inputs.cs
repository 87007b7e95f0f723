namespace NormSharp.Oracle;

/// <summary>
/// Seeded random inputs, drawn independently of NormSharp's own generator so that a bug there cannot
/// hide in the test data. The same arrays go to both sides.
/// </summary>
internal sealed class Inputs(int seed)
{
    private readonly Random random = new(seed);

    /// <summary>Normal samples (Box-Muller), float32.</summary>
    public float[] Normal(int count, double mean = 0, double std = 1)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    /// <summary>Uniform samples in [low, high), float32.</summary>
    public float[] Uniform(int count, double low, double high)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)(low + (high - low) * random.NextDouble());
        }
        return values;
    }

    /// <summary>A standard-normal NormSharp tensor.</summary>
    public Tensor Randn(params int[] shape) => Tensor.FromArray(Normal(Count(shape)), shape);

    /// <summary>A normal tensor with the given mean and standard deviation.</summary>
    public Tensor Randn(double mean, double std, params int[] shape) => Tensor.FromArray(Normal(Count(shape), mean, std), shape);

    /// <summary>A uniform tensor in [low, high).</summary>
    public Tensor Rand(double low, double high, params int[] shape) => Tensor.FromArray(Uniform(Count(shape), low, high), shape);

    /// <summary>An integer in [0, maxExclusive).</summary>
    public int Next(int maxExclusive) => random.Next(maxExclusive);

    /// <summary>An integer in [minInclusive, maxExclusive).</summary>
    public int Next(int minInclusive, int maxExclusive) => random.Next(minInclusive, maxExclusive);

    /// <summary>True with probability one half.</summary>
    public bool Coin() => random.Next(2) == 1;

    private static int Count(int[] shape) => shape.Aggregate(1, (a, b) => a * b);
}
