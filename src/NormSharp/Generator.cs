namespace NormSharp;

/// <summary>
/// A seeded source of random numbers for initialization, data shuffling and dropout, so that a run
/// is reproducible from its seed (PyTorch's <c>torch.Generator</c>). Not thread-safe.
/// </summary>
/// <remarks>
/// Its state is the seed and the number of values drawn from the seeded sequence (<see cref="GetState"/>,
/// <see cref="SetState"/>, PyTorch's <c>get_state</c>/<c>set_state</c>), so that a checkpoint can hold a dropout
/// layer's generator and a resumed run draws the same masks as one that never stopped.
/// </remarks>
public sealed class Generator
{
    [ThreadStatic]
    private static Generator? defaultGenerator;

    private Random random;
    private double? spareNormal;
    private long position;

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
    public double NextDouble()
    {
        position++;
        return random.NextDouble();
    }

    /// <summary>A uniform integer in [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive)
    {
        // Random(seed).Next(n) with n <= int.MaxValue takes one value of the seeded sequence, as NextDouble does.
        position++;
        return random.Next(maxExclusive);
    }

    /// <summary>The generator's state: its seed, the values drawn so far and a pending normal sample.</summary>
    public GeneratorState GetState() => new(Seed, position, spareNormal);

    /// <summary>
    /// Puts the generator in <paramref name="state"/> (from <see cref="GetState"/> of a generator with the same
    /// seed): the draws that follow are those that followed there. Costs one draw per value drawn before the state
    /// was taken (the seeded sequence is replayed; tens of millions per second).
    /// </summary>
    /// <exception cref="ArgumentException">The state's seed is not this generator's, or its position is negative.</exception>
    public void SetState(GeneratorState state)
    {
        if (state.Seed != Seed)
        {
            throw new ArgumentException($"The state is of a generator with seed {state.Seed}; this generator's seed is {Seed}.", nameof(state));
        }
        if (state.Position < 0)
        {
            throw new ArgumentException($"The state's position must be >= 0, got {state.Position}.", nameof(state));
        }
        if (state.Position < position)
        {
            random = new Random(Seed);
            position = 0;
        }
        for (; position < state.Position; position++)
        {
            random.NextDouble();
        }
        spareNormal = state.SpareNormal;
    }

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
            u1 = NextDouble();
        }
        while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        spareNormal = radius * Math.Sin(2.0 * Math.PI * u2);
        return radius * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="destination"/> with uniform samples in [low, high).</summary>
    public void FillUniform(Span<float> destination, double low = 0, double high = 1)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)(low + (high - low) * NextDouble());
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
            int j = NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}
