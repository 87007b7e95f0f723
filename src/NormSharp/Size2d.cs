namespace NormSharp;

/// <summary>
/// A (height, width) pair for 2-D window arguments — kernel size, stride, padding, dilation — the way
/// PyTorch accepts either one int or a pair: <c>3</c> converts to (3, 3) and <c>(3, 5)</c> to (3, 5).
/// </summary>
/// <param name="Height">The size along the height (row) dimension.</param>
/// <param name="Width">The size along the width (column) dimension.</param>
public readonly record struct Size2d(int Height, int Width)
{
    /// <summary>The same value for height and width.</summary>
    public static implicit operator Size2d(int size) => new(size, size);

    /// <summary>A (height, width) tuple.</summary>
    public static implicit operator Size2d((int Height, int Width) size) => new(size.Height, size.Width);

    /// <summary>The same value for height and width (named alternative to the implicit conversion).</summary>
    public static Size2d FromInt32(int size) => new(size, size);

    /// <summary>A (height, width) tuple (named alternative to the implicit conversion).</summary>
    public static Size2d FromValueTuple((int Height, int Width) size) => new(size.Height, size.Width);

    /// <summary>"(height, width)", as PyTorch prints a pair.</summary>
    public override string ToString() => $"({Height}, {Width})";
}
