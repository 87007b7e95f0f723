namespace NormSharp.Tests;

/// <summary>
/// Direct convolution in double precision, straight from the definition (no im2col, no GEMM), to check the
/// library's convolution against. Shapes: x [N, C, H, W], w [O, C / groups, kH, kW], y [N, O, outH, outW].
/// </summary>
internal static class ReferenceConv
{
    public sealed record Geometry(int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups);

    public static (int OutH, int OutW) OutSize(int[] xShape, int[] wShape, Geometry g) =>
        ((xShape[2] + 2 * g.PadH - g.DilationH * (wShape[2] - 1) - 1) / g.StrideH + 1,
         (xShape[3] + 2 * g.PadW - g.DilationW * (wShape[3] - 1) - 1) / g.StrideW + 1);

    /// <summary>y[n, o, oy, ox] = b[o] + Σ_{c, i, j} w[o, c, i, j] · x[n, g·Cg + c, oy·sH − pH + i·dH, ox·sW − pW + j·dW].</summary>
    public static double[] Forward(float[] x, int[] xShape, float[] w, int[] wShape, float[]? b, Geometry g)
    {
        int batch = xShape[0], channels = xShape[1], height = xShape[2], width = xShape[3];
        int outChannels = wShape[0], groupChannels = wShape[1], kH = wShape[2], kW = wShape[3];
        var (outH, outW) = OutSize(xShape, wShape, g);
        int groupOut = outChannels / g.Groups;
        var y = new double[batch * outChannels * outH * outW];
        for (int n = 0; n < batch; n++)
        {
            for (int o = 0; o < outChannels; o++)
            {
                int group = o / groupOut;
                for (int oy = 0; oy < outH; oy++)
                {
                    for (int ox = 0; ox < outW; ox++)
                    {
                        double sum = b is null ? 0 : b[o];
                        for (int c = 0; c < groupChannels; c++)
                        {
                            for (int i = 0; i < kH; i++)
                            {
                                for (int j = 0; j < kW; j++)
                                {
                                    int iy = oy * g.StrideH - g.PadH + i * g.DilationH;
                                    int ix = ox * g.StrideW - g.PadW + j * g.DilationW;
                                    if (iy < 0 || iy >= height || ix < 0 || ix >= width)
                                    {
                                        continue;
                                    }
                                    int channel = group * groupChannels + c;
                                    sum += (double)w[((o * groupChannels + c) * kH + i) * kW + j] * x[((n * channels + channel) * height + iy) * width + ix];
                                }
                            }
                        }
                        y[((n * outChannels + o) * outH + oy) * outW + ox] = sum;
                    }
                }
            }
        }
        return y;
    }

    /// <summary>The gradients of Σ y · dy with respect to x and w, by the same loops (each product's two partial derivatives).</summary>
    public static (double[] GradInput, double[] GradWeight) Backward(float[] x, int[] xShape, float[] w, int[] wShape, float[] dy, Geometry g)
    {
        int batch = xShape[0], channels = xShape[1], height = xShape[2], width = xShape[3];
        int outChannels = wShape[0], groupChannels = wShape[1], kH = wShape[2], kW = wShape[3];
        var (outH, outW) = OutSize(xShape, wShape, g);
        int groupOut = outChannels / g.Groups;
        var gradInput = new double[x.Length];
        var gradWeight = new double[w.Length];
        for (int n = 0; n < batch; n++)
        {
            for (int o = 0; o < outChannels; o++)
            {
                int group = o / groupOut;
                for (int oy = 0; oy < outH; oy++)
                {
                    for (int ox = 0; ox < outW; ox++)
                    {
                        double upstream = dy[((n * outChannels + o) * outH + oy) * outW + ox];
                        for (int c = 0; c < groupChannels; c++)
                        {
                            for (int i = 0; i < kH; i++)
                            {
                                for (int j = 0; j < kW; j++)
                                {
                                    int iy = oy * g.StrideH - g.PadH + i * g.DilationH;
                                    int ix = ox * g.StrideW - g.PadW + j * g.DilationW;
                                    if (iy < 0 || iy >= height || ix < 0 || ix >= width)
                                    {
                                        continue;
                                    }
                                    int channel = group * groupChannels + c;
                                    int xi = ((n * channels + channel) * height + iy) * width + ix;
                                    int wi = ((o * groupChannels + c) * kH + i) * kW + j;
                                    gradInput[xi] += upstream * w[wi];
                                    gradWeight[wi] += upstream * x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
        return (gradInput, gradWeight);
    }

    /// <summary>Asserts |expected − actual| ≤ tolerance · max(1, |expected|) everywhere, naming the worst element.</summary>
    public static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]) / Math.Max(1, Math.Abs(expected[i]));
            Assert.True(error <= tolerance, $"{what} at {i}: expected {expected[i]:G8}, got {actual[i]:G8} (error {error:G3})");
        }
    }

    /// <summary>
    /// Asserts |expected − actual| ≤ tolerance · max(1, rms(expected)) everywhere: for algorithms whose rounding grows
    /// with the outputs' scale rather than with each output (Winograd's F(4x4, 3x3)).
    /// </summary>
    public static void AssertCloseToScale(double[] expected, float[] actual, double tolerance, string what)
    {
        double scale = Math.Max(1, Math.Sqrt(expected.Sum(v => v * v) / Math.Max(1, expected.Length)));
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]) / scale;
            Assert.True(error <= tolerance, $"{what} at {i}: expected {expected[i]:G8}, got {actual[i]:G8} (error {error:G3} of the scale {scale:G3})");
        }
    }
}
