using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// 2-D adaptive average pooling (PyTorch's <c>adaptive_avg_pool2d</c>): the output has the requested size
    /// whatever the input's, cell (oy, ox) being the mean of input rows [⌊oy·H/outH⌋, ⌈(oy+1)·H/outH⌉) and the
    /// matching columns. <c>outputSize: 1</c> is global average pooling (the mean of each channel's plane).
    /// </summary>
    /// <param name="input">[N, C, H, W] or [C, H, W], H and W at least 1.</param>
    /// <param name="outputSize">(outH, outW), an int or a pair, each at least 1.</param>
    /// <returns>[..., outH, outW].</returns>
    /// <exception cref="ArgumentException">Wrong rank, an empty plane, or an output size below 1.</exception>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2d outputSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckPositive(outputSize, nameof(outputSize));
        if (input.Rank is not (3 or 4))
        {
            throw new ArgumentException(
                $"AdaptiveAvgPool2d expected 3-D [C, H, W] or 4-D [N, C, H, W] input, got {input.Rank}-D shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (input.Size(-2) == 0 || input.Size(-1) == 0)
        {
            throw new ArgumentException(
                $"AdaptiveAvgPool2d expected non-empty height and width, got input shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        return new AdaptiveAvgPool2dFunction(outputSize).Forward(input);
    }

    private sealed class AdaptiveAvgPool2dFunction(Size2d outputSize) : Function
    {
        private int[] inputShape = [];

        public override string Name => "AdaptiveAvgPool2d";

        public Tensor Forward(Tensor input)
        {
            inputShape = input.Shape;
            int height = input.Size(-2), width = input.Size(-1), outHeight = outputSize.Height, outWidth = outputSize.Width;
            int plane = height * width, outPlane = outHeight * outWidth, planes = input.Length / plane;
            var output = Tensor.Uninitialized([.. input.ShapeSpan[..^2], outHeight, outWidth]);   // every cell is written
            if (outPlane == 1)
            {
                AdaptivePooling.GlobalAvgForward(input.Data, planes, plane, output.AsSpan());
                return Record(output, input);
            }
            Parallelism.For(planes, Math.Max(plane, outPlane), (_, start, end) =>
                AdaptivePooling.AvgForward(
                    input.Data.Slice(start * plane, (end - start) * plane), end - start, height, width, outHeight, outWidth,
                    output.AsSpan().Slice(start * outPlane, (end - start) * outPlane)));
            return Record(output, input);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            int height = inputShape[^2], width = inputShape[^1], outHeight = outputSize.Height, outWidth = outputSize.Width;
            int plane = height * width, outPlane = outHeight * outWidth;
            if (outPlane == 1)
            {
                return [GlobalAvgBackward(gradOutput, inputShape)];
            }
            var gradInput = Tensor.Zeros(inputShape);
            int planes = gradInput.Length / plane;
            Parallelism.For(planes, Math.Max(plane, outPlane), (_, start, end) =>
                AdaptivePooling.AvgBackward(
                    gradOutput.Data.Slice(start * outPlane, (end - start) * outPlane), end - start, height, width, outHeight, outWidth,
                    gradInput.AsSpan().Slice(start * plane, (end - start) * plane)));
            return [gradInput];
        }
    }

    // The gradient of global average pooling: each plane of the input's shape filled with its output's gradient / plane.
    private static Tensor GlobalAvgBackward(Tensor gradOutput, int[] inputShape)
    {
        var gradInput = Tensor.Uninitialized(inputShape);   // every element is written
        int plane = inputShape[^2] * inputShape[^1], planes = gradInput.Length / Math.Max(1, plane);
        Parallelism.For(planes, plane, (_, start, end) =>
            AdaptivePooling.GlobalAvgBackward(
                gradOutput.Data[start..end], end - start, plane, gradInput.AsSpan().Slice(start * plane, (end - start) * plane)));
        return gradInput;
    }
}
