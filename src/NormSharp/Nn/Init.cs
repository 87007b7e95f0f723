namespace NormSharp.Nn;

/// <summary>
/// Parameter initializers (PyTorch's <c>torch.nn.init</c>), writing in place. Each takes an optional
/// generator; without one they draw from <see cref="DefaultGenerator"/>, which <see cref="ManualSeed"/> reseeds.
/// </summary>
public static class Init
{
    /// <summary>The generator used when none is given: <see cref="Generator.Default"/> (seed 0 until <see cref="ManualSeed"/> is called).</summary>
    public static Generator DefaultGenerator => Generator.Default;

    /// <summary>
    /// Reseeds the default generator of this thread (PyTorch's <c>torch.manual_seed</c>), and with it everything that
    /// draws from it when given no generator: parameter initialization (Linear, Conv2d, these initializers),
    /// <see cref="Dropout"/> masks, <see cref="Tensor.Randn(int[])"/> and <see cref="Tensor.Rand(int[])"/>, and the
    /// shuffling of a <see cref="Data.DataLoader"/> created afterwards. Same seed, same run.
    /// </summary>
    public static void ManualSeed(int seed) => Generator.ManualSeed(seed);

    /// <summary>Fills with U(low, high).</summary>
    public static void Uniform(Tensor tensor, double low = 0, double high = 1, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        (generator ?? DefaultGenerator).FillUniform(tensor.AsSpan(), low, high);
    }

    /// <summary>Fills with N(mean, std²).</summary>
    public static void Normal(Tensor tensor, double mean = 0, double std = 1, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        (generator ?? DefaultGenerator).FillNormal(tensor.AsSpan(), mean, std);
    }

    /// <summary>Fills with zeros.</summary>
    public static void Zeros(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.AsSpan().Clear();
    }

    /// <summary>Fills with ones.</summary>
    public static void Ones(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.AsSpan().Fill(1f);
    }

    /// <summary>
    /// Kaiming (He) uniform: U(-b, b) with b = gain · √(3 / fan_in), gain = √(2 / (1 + a²)) for leaky ReLU slope a.
    /// With a = √5 this is PyTorch's default initialization of Linear and Conv2d weights (b = 1/√fan_in).
    /// </summary>
    public static void KaimingUniform(Tensor tensor, double a = 0, Generator? generator = null)
    {
        var (fanIn, _) = Fans(tensor);
        double gain = Math.Sqrt(2.0 / (1 + a * a));
        double bound = gain * Math.Sqrt(3.0 / fanIn);
        Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>Kaiming (He) normal, fan_in mode: N(0, std²) with std = gain / √fan_in, gain = √(2 / (1 + a²)).</summary>
    public static void KaimingNormal(Tensor tensor, double a = 0, Generator? generator = null)
    {
        var (fanIn, _) = Fans(tensor);
        double std = Math.Sqrt(2.0 / (1 + a * a)) / Math.Sqrt(fanIn);
        Normal(tensor, 0, std, generator);
    }

    /// <summary>Xavier (Glorot) uniform: U(-b, b) with b = gain · √(6 / (fan_in + fan_out)).</summary>
    public static void XavierUniform(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = Fans(tensor);
        double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>
    /// fan_in and fan_out as PyTorch computes them: for a weight [out, in, k...], fan_in = in · ∏k and fan_out = out · ∏k.
    /// </summary>
    public static (int FanIn, int FanOut) Fans(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var shape = tensor.ShapeSpan;
        if (shape.Length < 2)
        {
            throw new ArgumentException(
                $"Fan in and fan out need a tensor with at least 2 dimensions, got shape {ShapeUtil.Format(shape)}.", nameof(tensor));
        }
        int receptive = ShapeUtil.Product(shape, 2, shape.Length);
        return (shape[1] * receptive, shape[0] * receptive);
    }
}
