namespace NormSharp;

/// <summary>
/// A seeded source of random numbers for initialization, data shuffling and dropout, so that a run
/// is reproducible from its seed (PyTorch's <c>torch.Generator</c>). Not thread-safe.
/// </summary>
public sealed class Generator
{
    [ThreadStatic]
    private static Generator? defaultGenerator;

    private readonly Random random;
    private double? spareNormal;

    /// <summary>Creates a generator from a seed.</summary>
    public Generator(int seed)
    {
        Seed = seed;
        random = new Random(seed);
    }

    /// <summary>
    /// The default generator of this thread (PyTorch's default CPU generator), used wherever a generator is optional
    /// and none is given; seed 0 until <see cref="ManualSeed"/> (or <c>Init.ManualSeed</c>) reseeds it.
    /// </summary>
    public static Generator Default => defaultGenerator ??= new Generator(0);

    /// <summary>Replaces this thread's <see cref="Default"/> generator by one seeded with <paramref name="seed"/> (<c>torch.manual_seed</c>).</summary>
    public static void ManualSeed(int seed) => defaultGenerator = new Generator(seed);

    /// <summary>The seed this generator was created with.</summary>
    public int Seed { get; }

    /// <summary>A uniform sample in [0, 1).</summary>
    public double NextDouble() => random.NextDouble();

    /// <summary>A uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive) => random.Next(maxExclusive);

    /// <summary>A standard normal sample (Box-Muller, both values used).</summary>
    public double NextNormal()
    {
        if (spareNormal is double spare)
        {
            spareNormal = null;
            return spare;
        }
        double u1;
        do
        {
            u1 = random.NextDouble();
        }
        while (u1 <= double.Epsilon);
        double u2 = random.NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        spareNormal = radius * Math.Sin(2.0 * Math.PI * u2);
        return radius * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="destination"/> with uniform samples in [low, high).</summary>
    public void FillUniform(Span<float> destination, double low = 0, double high = 1)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)(low + (high - low) * random.NextDouble());
        }
    }

    /// <summary>Fills <paramref name="destination"/> with normal samples of the given mean and standard deviation.</summary>
    public void FillNormal(Span<float> destination, double mean = 0, double std = 1)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)(mean + std * NextNormal());
        }
    }

    /// <summary>A random permutation of 0..count-1 (Fisher-Yates).</summary>
    public int[] Permutation(int count)
    {
        var p = new int[count];
        for (int i = 0; i < count; i++)
        {
            p[i] = i;
        }
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
