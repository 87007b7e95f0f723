using System.Buffers;
using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// 2-D max pooling (PyTorch's <c>max_pool2d</c>, floor mode, dilation 1): y[..., oy, ox] = max over the window at
    /// (oy·sH − pH, ox·sW − pW) of size kH × kW, padding counting as −∞. The gradient goes to the first maximum
    /// of each window in row-major order, as in PyTorch.
    /// </summary>
    /// <param name="input">[N, C, H, W] or [C, H, W].</param>
    /// <param name="kernelSize">Window size, an int or a (height, width) pair.</param>
    /// <param name="stride">Window step; default (null) = <paramref name="kernelSize"/>.</param>
    /// <param name="padding">Implicit −∞ padding on each side, default 0, at most half the kernel size.</param>
    /// <returns>[..., outH, outW] with outH = ⌊(H + 2·pH − kH) / sH⌋ + 1 (likewise outW).</returns>
    /// <exception cref="ArgumentException">Wrong rank, padding over half the kernel, or a window larger than the padded input.</exception>
    public static Tensor MaxPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null)
    {
        var window = PoolWindow("MaxPool2d", input, kernelSize, stride, padding);
        return new MaxPool2dFunction(window).Forward(input);
    }

    /// <summary>
    /// 2-D average pooling (PyTorch's <c>avg_pool2d</c>, floor mode, count_include_pad = true): y = (sum of the window's
    /// in-image elements) / (kH·kW); zero padding counts in the divisor.
    /// </summary>
    /// <param name="input">[N, C, H, W] or [C, H, W].</param>
    /// <param name="kernelSize">Window size, an int or a (height, width) pair.</param>
    /// <param name="stride">Window step; default (null) = <paramref name="kernelSize"/>.</param>
    /// <param name="padding">Implicit zero padding on each side, default 0, at most half the kernel size.</param>
    /// <returns>[..., outH, outW] with outH = ⌊(H + 2·pH − kH) / sH⌋ + 1 (likewise outW).</returns>
    /// <exception cref="ArgumentException">Wrong rank, padding over half the kernel, or a window larger than the padded input.</exception>
    public static Tensor AvgPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d? padding = null)
    {
        var window = PoolWindow("AvgPool2d", input, kernelSize, stride, padding);
        return new AvgPool2dFunction(window).Forward(input);
    }

    private static Window2d PoolWindow(string op, Tensor input, Size2d kernelSize, Size2d? stride, Size2d? padding)
    {
        ArgumentNullException.ThrowIfNull(input);
        var strides = stride ?? kernelSize;
        var paddings = padding ?? 0;
        CheckPositive(kernelSize, nameof(kernelSize));
        CheckPositive(strides, nameof(stride));
        CheckNonNegative(paddings, nameof(padding));
        if (paddings.Height > kernelSize.Height / 2 || paddings.Width > kernelSize.Width / 2)
        {
            throw new ArgumentException(
                $"{op} padding should be at most half of the kernel size, got padding {paddings} and kernel size {kernelSize}.", nameof(padding));
        }
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException(
                $"{op} expected 3-D [C, H, W] or 4-D [N, C, H, W] input, got {input.Rank}-D shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (input.Size(-2) == 0 || input.Size(-1) == 0)
        {
            throw new ArgumentException($"{op} expected non-empty height and width, got input shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        var window = new Window2d(
            input.Size(-2), input.Size(-1), kernelSize.Height, kernelSize.Width,
            strides.Height, strides.Width, paddings.Height, paddings.Width);
        if (window.OutHeight <= 0 || window.OutWidth <= 0)
        {
            throw new ArgumentException(
                $"{op} kernel size {kernelSize} is larger than the padded input: input {ShapeUtil.Format(input.ShapeSpan)}, padding {paddings}.", nameof(input));
        }
        return window;
    }

    // One window covers the whole plane (kernel = plane, no padding): global average pooling, a row reduction.
    private static bool IsGlobal(in Window2d window) =>
        window is { PaddingHeight: 0, PaddingWidth: 0 } && window.KernelHeight == window.Height && window.KernelWidth == window.Width;

    private static int[] PooledShape(Tensor input, in Window2d window) =>
        [.. input.ShapeSpan[..^2], window.OutHeight, window.OutWidth];

    private sealed class MaxPool2dFunction(Window2d window) : Function
    {
        private int[] indices = [];
        private int[] inputShape = [];

        public override string Name => "MaxPool2d";

        public Tensor Forward(Tensor input)
        {
            inputShape = input.Shape;
            int planes = input.Length / Math.Max(1, window.Plane);
            var output = Tensor.Uninitialized(PooledShape(input, window));   // every window writes its maximum
            // Rented, not allocated: a fresh array this size is mostly page faults (see StoragePool); back in Backward.
            var chosen = ArrayPool<int>.Shared.Rent(output.Length);
            int plane = window.Plane, outPlane = window.OutPlane;
            Parallelism.For(planes, (long)outPlane * window.KernelArea, (_, start, end) =>
                Pooling.MaxForward(
                    input.Data.Slice(start * plane, (end - start) * plane), end - start, window,
                    output.AsSpan().Slice(start * outPlane, (end - start) * outPlane), chosen.AsSpan(start * outPlane, (end - start) * outPlane)));
            var result = Record(output, input);
            if (result.GradFn == this)
            {
                indices = chosen;
            }
            else
            {
                ArrayPool<int>.Shared.Return(chosen);
            }
            return result;
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = Tensor.Uninitialized(inputShape);   // MaxBackward clears it
            int plane = window.Plane, outPlane = window.OutPlane;
            int planes = gradInput.Length / Math.Max(1, plane);
            Parallelism.For(planes, outPlane, (_, start, end) =>
                Pooling.MaxBackward(
                    gradOutput.Data.Slice(start * outPlane, (end - start) * outPlane), indices.AsSpan(start * outPlane, (end - start) * outPlane),
                    end - start, window, gradInput.AsSpan().Slice(start * plane, (end - start) * plane)));
            ArrayPool<int>.Shared.Return(indices);
            indices = [];
            return [gradInput];
        }
    }

    private sealed class AvgPool2dFunction(Window2d window) : Function
    {
        private int[] inputShape = [];

        public override string Name => "AvgPool2d";

        public Tensor Forward(Tensor input)
        {
            inputShape = input.Shape;
            int planes = input.Length / Math.Max(1, window.Plane);
            var output = Tensor.Uninitialized(PooledShape(input, window));   // every window writes its average
            int plane = window.Plane, outPlane = window.OutPlane;
            if (IsGlobal(window))
            {
                AdaptivePooling.GlobalAvgForward(input.Data, planes, plane, output.AsSpan());
                return Record(output, input);
            }
            Parallelism.For(planes, (long)outPlane * window.KernelArea, (_, start, end) =>
                Pooling.AvgForward(
                    input.Data.Slice(start * plane, (end - start) * plane), end - start, window,
                    output.AsSpan().Slice(start * outPlane, (end - start) * outPlane)));
            return Record(output, input);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            if (IsGlobal(window))
            {
                return [GlobalAvgBackward(gradOutput, inputShape)];
            }
            var gradInput = Tensor.Uninitialized(inputShape);   // AvgBackward clears it
            int plane = window.Plane, outPlane = window.OutPlane;
            int planes = gradInput.Length / Math.Max(1, plane);
            Parallelism.For(planes, (long)outPlane * window.KernelArea, (_, start, end) =>
                Pooling.AvgBackward(
                    gradOutput.Data.Slice(start * outPlane, (end - start) * outPlane), end - start, window,
                    gradInput.AsSpan().Slice(start * plane, (end - start) * plane)));
            return [gradInput];
        }
    }
}
