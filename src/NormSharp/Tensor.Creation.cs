namespace NormSharp;

public partial class Tensor
{
    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    /// <exception cref="ArgumentException">The shape's element count differs from the data's length.</exception>
    public static Tensor FromArray(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long count = ShapeUtil.Count(shape);
        if (count != data.Length)
        {
            throw new ArgumentException(
                $"Shape {ShapeUtil.Format(shape)} needs {count} elements but the data has {data.Length}.", nameof(shape));
        }
        var (array, offset) = StoragePool.Copy(data);
        return new Tensor(array, offset, (int[])shape.Clone());
    }

    /// <summary>A one-element tensor of shape [] (a scalar).</summary>
    public static Tensor Scalar(float value) => new([value], []);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => OnNewStorage(shape, clear: true);

    /// <summary>
    /// A tensor whose storage is not cleared (PyTorch's <c>torch.empty</c>): for kernel outputs that write every
    /// element, so that a large output is not written twice.
    /// </summary>
    internal static Tensor Uninitialized(params int[] shape) => OnNewStorage(shape, clear: false);

    // A tensor of the given shape on storage from the pool (64-byte aligned when large).
    private static Tensor OnNewStorage(int[] shape, bool clear)
    {
        var (array, offset) = StoragePool.NewStorage(ShapeUtil.Count(shape), clear);
        return new Tensor(array, offset, (int[])shape.Clone());
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var tensor = OnNewStorage(shape, clear: false);
        tensor.AsSpan().Fill(value);
        return tensor;
    }

    /// <summary>A tensor of zeros with the shape of <paramref name="other"/>.</summary>
    public static Tensor ZerosLike(Tensor other) => Zeros(other.shape);

    /// <summary>Samples from the standard normal distribution (<c>torch.randn</c>).</summary>
    public static Tensor Randn(Generator generator, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var t = Zeros(shape);
        generator.FillNormal(t.AsSpan());
        return t;
    }

    /// <summary>Samples from the standard normal distribution, drawn from <see cref="Generator.Default"/> (<c>torch.randn</c> without a generator).</summary>
    public static Tensor Randn(params int[] shape) => Randn(Generator.Default, shape);

    /// <summary>Samples uniformly from [0, 1), drawn from <see cref="Generator.Default"/> (<c>torch.rand</c> without a generator).</summary>
    public static Tensor Rand(params int[] shape) => Rand(Generator.Default, shape);

    /// <summary>Samples uniformly from [0, 1) (<c>torch.rand</c>).</summary>
    public static Tensor Rand(Generator generator, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var t = Zeros(shape);
        generator.FillUniform(t.AsSpan());
        return t;
    }

    /// <summary>0, 1, ..., count-1 as floats, shape [count].</summary>
    public static Tensor Arange(int count)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = i;
        }
        return new Tensor(data, [count]);
    }
}
