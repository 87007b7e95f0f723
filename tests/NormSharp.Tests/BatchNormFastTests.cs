using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>
/// The fast batch-norm kernels against the readable reference kernels (BatchNormReference, double statistics):
/// every length 0..257 in both layouts for every vector width this machine runs, odd and large shapes that reach
/// the chunked, split and threaded paths, the fused ReLU, and the 1e4-offset channel.
/// </summary>
public class BatchNormFastTests
{
    public static TheoryData<int> Widths
    {
        get
        {
            var data = new TheoryData<int>();
            foreach (var width in new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 })
            {
                if (Simd.IsSupported(width))
                {
                    data.Add((int)width);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_length_0_to_257_matches_reference_in_both_layouts(int widthIndex)
    {
        var width = (SimdWidth)widthIndex;
        for (int length = 0; length <= 257; length++)
        {
            // channels first: the run of one channel has `length` elements (vector body + tail)
            Compare(outer: 2, channels: 3, inner: length, width, relu: length % 2 == 1, seed: length);
            // channels last: `length` channels across a row, and `length` rows
            Compare(outer: 3, channels: length, inner: 1, width, relu: length % 3 == 0, seed: 1000 + length);
            Compare(outer: length, channels: 5, inner: 1, width, relu: false, seed: 2000 + length);
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Streaming_stores_write_the_same_bits_at_every_alignment(int widthIndex)
    {
        // Non-temporal stores start at the first vector-aligned element of each run: outputs placed at every float
        // offset within a 64-byte line, runs of every length around the vector widths, with and without ReLU.
        var width = (SimdWidth)widthIndex;
        foreach (int inner in new[] { 1, 5, 15, 16, 17, 31, 33, 47, 64, 100 })
        {
            for (int shift = 0; shift < 16; shift++)
            {
                CompareStreaming(outer: 3, channels: 2, inner, shift, width, relu: (inner + shift) % 2 == 0, seed: inner * 16 + shift);
            }
        }
        // Channels last streams only when every row starts vector-aligned: whole vectors of channels, aligned output.
        foreach (int channels in new[] { 16, 48, 20 })
        {
            for (int shift = 0; shift < 16; shift++)
            {
                CompareStreaming(outer: 70, channels, inner: 1, shift, width, relu: shift % 2 == 0, seed: channels * 16 + shift);
            }
        }
    }

    [Fact]
    public void Large_outputs_stream_where_non_temporal_stores_pay_unless_small_or_in_short_channels_first_runs()
    {
        long large = BatchNormFast.StreamingFloats;
        bool pays = Simd.NonTemporalStoresPay;
        Assert.Equal(pays, BatchNormFast.ChoosesStreaming(outer: (int)(large / (4 * 1024)), channels: 4, inner: 1024));
        Assert.Equal(pays, BatchNormFast.ChoosesStreaming(outer: (int)(large / 64), channels: 64, inner: 1));                 // channels last
        Assert.False(BatchNormFast.ChoosesStreaming(outer: 2, channels: 4, inner: 1024));                                       // small
        Assert.False(BatchNormFast.ChoosesStreaming(outer: (int)(large / 64) - 1, channels: 64, inner: 1));                   // small
        Assert.False(BatchNormFast.ChoosesStreaming(outer: (int)(large / (4 * 196)) + 1, channels: 4, inner: 196));       // short runs (14 × 14)
    }

    [Fact]
    public unsafe void Threaded_short_runs_take_the_memory_order_schedule()
    {
        // The shapes below that the comments call short runs reach BatchNormChannelsFirst.RunShortRuns where threads run.
        static bool ShortRuns(int outer, int channels, int inner) =>
            BatchNormChannelsFirst<float, ScalarOps>.UsesShortRuns(new BatchNormPlan(null, null, outer, channels, inner, null, null, false, SimdWidth.Scalar));
        bool threaded = Environment.ProcessorCount is > 1 and <= 20;   // two blocks of batch rows per thread: 40 rows for 20 threads
        Assert.Equal(threaded, ShortRuns(64, 97, 45));
        Assert.Equal(threaded, ShortRuns(1200, 4, 61));
        Assert.Equal(threaded, ShortRuns(64, 512, 49));
        Assert.False(ShortRuns(8, 512, 49));                                        // 0.8 MB: stays in the caches
        Assert.False(ShortRuns(128, 256, BatchNormChannelsFirst<float, ScalarOps>.ShortRun));   // 8 × 8 maps and larger
        Assert.False(ShortRuns(3, 2000, 49));                                       // fewer than two batch rows per thread
    }

    [Theory]
    [InlineData(5, 7, 143)]        // odd (N, C, H·W)
    [InlineData(3, 5, 4500)]       // runs longer than one ChunkLength: chunks merged
    [InlineData(16, 3, 2100)]      // threaded, fewer channels than 2 × threads: batch split, partial moments merged
    [InlineData(8, 64, 49)]        // threaded, one channel per work item, short runs
    [InlineData(60, 3, 49)]        // short runs grouped into chunks of several batch rows, more rows than one chunk holds
    [InlineData(100, 5, 130)]      // the same, threaded
    [InlineData(64, 97, 45)]       // threaded, over 1 MiB, short runs walked in memory order by blocks of batch rows (7 × 7 maps)
    [InlineData(1200, 4, 61)]      // the same, blocks of more batch rows than one chunk holds
    [InlineData(6, 9, 9000)]       // channels of 216 KB: one thread per channel, re-read from L2
    [InlineData(6, 3, 50000)]      // channels over the 1 MiB per-channel budget: streaming over batch blocks
    [InlineData(3, 2, 40000)]      // large channels, fewer batch rows than 2 × threads: split per channel
    [InlineData(40000, 3, 1)]      // channels last, threaded over row blocks
    [InlineData(1500, 100, 1)]     // channels last, 100 channels (vector body + tail per row), threaded
    [InlineData(60, 100, 1)]       // BatchNorm1d (60, 100)
    [InlineData(2, 1, 1)]
    public void Odd_and_threaded_shapes_match_reference(int outer, int channels, int inner)
    {
        foreach (var width in new[] { SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512 })
        {
            if (Simd.IsSupported(width))
            {
                Compare(outer, channels, inner, width, relu: false, seed: outer + channels + inner);
                Compare(outer, channels, inner, width, relu: true, seed: outer * channels + inner);
                Compare(outer, channels, inner, width, relu: false, seed: 7, affine: false, running: false);
            }
        }
    }

    [Theory]
    [InlineData(4, 3, 300)]
    [InlineData(1200, 3, 1)]
    public void Offset_1e4_with_std_one_hundredth_still_normalizes(int outer, int channels, int inner)
    {
        int count = outer * channels * inner;
        var x = new float[count];
        new Generator(5).FillNormal(x, 1e4, 1e-2);
        var y = new float[count];
        var mean = new double[channels];
        var invStd = new double[channels];
        BatchNormFast.ForwardTraining(x, outer, channels, inner, default, default, 1e-5, 0.1, default, default, mean, invStd, y);
        for (int c = 0; c < channels; c++)
        {
            double sum = 0, squares = 0;
            int n = 0;
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    double v = y[(o * channels + c) * inner + i];
                    sum += v;
                    squares += v * v;
                    n++;
                }
            }
            double m = sum / n, variance = squares / n - m * m;
            Assert.True(Math.Abs(m) < 1e-3, $"channel {c}: mean of y {m}");
            // eps = 1e-5 against variance 1e-4 leaves variance(y) = 1e-4 / (1e-4 + 1e-5) ≈ 0.909
            Assert.True(Math.Abs(variance - 1e-4 / (1e-4 + 1e-5)) < 0.02, $"channel {c}: variance of y {variance}");
        }
        Compare(outer, channels, inner, SimdWidth.Auto, relu: true, seed: 11, offset: 1e4, std: 1e-2);
    }

    [Fact]
    public void Wrong_lengths_throw_with_the_expected_count()
    {
        var x = new float[12];
        var ex = Assert.Throws<ArgumentException>(() => BatchNormFast.ForwardTraining(
            x, 2, 3, 2, default, default, 1e-5, 0.1, default, default, new double[3], new double[3], new float[11]));
        Assert.Contains("needs 12", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => BatchNormFast.Backward(
            x, x, 2, 3, 2, new float[2], default, new double[3], new double[3], true, new float[12], default, default));
        Assert.Contains("expected 3", ex.Message, StringComparison.Ordinal);
    }

    // Training forward, evaluation forward and backward with streaming stores forced on and off: identical bits.
    private static void CompareStreaming(int outer, int channels, int inner, int shift, SimdWidth width, bool relu, int seed)
    {
        string what = $"[{outer}, {channels}, {inner}] at +{shift} floats {width} relu={relu}";
        int count = outer * channels * inner;
        var g = new Generator(seed);
        var x = new float[count];
        g.FillNormal(x, 0.5, 2);
        var dy = new float[count];
        g.FillNormal(dy);
        float[] weight = RandomParameters(g, channels, 1), bias = RandomParameters(g, channels, 0);
        float[] runningMean = RandomParameters(g, channels, 0), runningVar = Array.ConvertAll(RandomParameters(g, channels, 1), v => Math.Abs(v) + 0.1f);
        var results = new List<float[]>[2];
        foreach (bool streaming in new[] { false, true })
        {
            var outputs = results[streaming ? 1 : 0] = [];
            // the destination starts `shift` floats into a buffer; which element is vector-aligned depends on the buffer
            float[] Destination() => new float[count + 16];
            var y = Destination();
            double[] mean = new double[channels], invStd = new double[channels];
            BatchNormFast.ForwardTraining(x, outer, channels, inner, weight, bias, 1e-5, 0.1, (float[])runningMean.Clone(), (float[])runningVar.Clone(),
                mean, invStd, y.AsSpan(shift, count), relu, width, streaming);
            var dx = Destination();
            float[] dw = new float[channels], db = new float[channels];
            BatchNormFast.Backward(x, dy, outer, channels, inner, weight, bias, mean, invStd, true, dx.AsSpan(shift, count), dw, db, relu, width, streaming);
            var yEval = Destination();
            BatchNormFast.ForwardInference(x, outer, channels, inner, weight, bias, runningMean, runningVar, 1e-5,
                new double[channels], new double[channels], yEval.AsSpan(shift, count), relu, width, streaming);
            outputs.AddRange([y, dx, dw, db, yEval]);
        }
        string[] names = ["training y", "gradInput", "gradWeight", "gradBias", "eval y"];
        for (int i = 0; i < names.Length; i++)
        {
            Assert.True(results[0][i].AsSpan().SequenceEqual(results[1][i]), $"{what}: {names[i]} differs with streaming stores");
        }
    }

    // Runs training forward, evaluation forward and both backwards through the fast and the reference kernels.
    private static void Compare(int outer, int channels, int inner, SimdWidth width, bool relu, int seed,
        bool affine = true, bool running = true, double offset = 0.5, double std = 2)
    {
        string what = $"[{outer}, {channels}, {inner}] {width} relu={relu} affine={affine}";
        int count = outer * channels * inner;
        var g = new Generator(seed);
        var x = new float[count];
        g.FillNormal(x, offset, std);
        var dy = new float[count];
        g.FillNormal(dy);
        float[] weight = affine ? RandomParameters(g, channels, 1) : [];
        float[] bias = affine ? RandomParameters(g, channels, 0) : [];
        float[] runMeanFast = running ? RandomParameters(g, channels, 0) : [];
        float[] runVarFast = running ? Array.ConvertAll(RandomParameters(g, channels, 1), v => Math.Abs(v) + 0.1f) : [];
        float[] runMeanRef = (float[])runMeanFast.Clone(), runVarRef = (float[])runVarFast.Clone();

        // training forward
        var yFast = new float[count];
        var yRef = new float[count];
        double[] meanFast = new double[channels], invFast = new double[channels], meanRef = new double[channels], invRef = new double[channels];
        BatchNormFast.ForwardTraining(x, outer, channels, inner, weight, bias, 1e-5, 0.1, runMeanFast, runVarFast, meanFast, invFast, yFast, relu, width);
        BatchNormReference.ForwardTraining<float>(x, outer, channels, inner, weight, bias, 1e-5, 0.1, runMeanRef, runVarRef, meanRef, invRef, yRef);
        if (relu)
        {
            Relu(yRef);
        }
        AssertClose(meanRef, meanFast, 1e-6 * (1 + Math.Abs(offset)), what + " mean");
        AssertClose(invRef, invFast, 1e-5, what + " invStd", relative: true);
        AssertClose(yRef, yFast, 1e-4, what + " training y");
        AssertClose(runMeanRef, runMeanFast, 1e-5, what + " running mean");
        AssertClose(runVarRef, runVarFast, 1e-5, what + " running var", relative: true);
        Backward(x, dy, yFast, outer, channels, inner, weight, bias, meanFast, invFast, training: true, relu, width, what + " training");

        // evaluation forward with running statistics (or batch statistics when there are none)
        if (running)
        {
            var yEvalFast = new float[count];
            var yEvalRef = new float[count];
            var m1 = new double[channels];
            var i1 = new double[channels];
            var m2 = new double[channels];
            var i2 = new double[channels];
            BatchNormFast.ForwardInference(x, outer, channels, inner, weight, bias, runMeanFast, runVarFast, 1e-5, m1, i1, yEvalFast, relu, width);
            BatchNormReference.ForwardInference<float>(x, outer, channels, inner, weight, bias, runMeanFast, runVarFast, 1e-5, m2, i2, yEvalRef);
            if (relu)
            {
                Relu(yEvalRef);
            }
            AssertClose(yEvalRef, yEvalFast, 1e-4, what + " eval y");
            Backward(x, dy, yEvalFast, outer, channels, inner, weight, bias, m1, i1, training: false, relu, width, what + " eval");
        }
    }

    // Fast backward against the reference backward fed with the ReLU-masked gradient (mask from the fast output).
    private static void Backward(float[] x, float[] dy, float[] yFast, int outer, int channels, int inner,
        float[] weight, float[] bias, double[] mean, double[] invStd, bool training, bool relu, SimdWidth width, string what)
    {
        int count = x.Length;
        var masked = (float[])dy.Clone();
        if (relu)
        {
            for (int i = 0; i < count; i++)
            {
                masked[i] = yFast[i] > 0 ? dy[i] : 0;
            }
        }
        var dxFast = new float[count];
        var dxRef = new float[count];
        float[] dwFast = new float[weight.Length], dbFast = new float[bias.Length], dwRef = new float[weight.Length], dbRef = new float[bias.Length];
        BatchNormFast.Backward(x, dy, outer, channels, inner, weight, bias, mean, invStd, training, dxFast, dwFast, dbFast, relu, width);
        BatchNormReference.Backward<float>(x, masked, outer, channels, inner, weight, mean, invStd, training, dxRef, dwRef, dbRef);
        double sumScale = 1e-5 * Math.Sqrt(Math.Max(1, (double)outer * inner)) * 10;
        AssertClose(dxRef, dxFast, 2e-4, what + " gradInput");
        AssertClose(dwRef, dwFast, sumScale, what + " gradWeight");
        AssertClose(dbRef, dbFast, sumScale, what + " gradBias");

        // only gradInput asked for (the evaluation path without sums)
        var dxOnly = new float[count];
        BatchNormFast.Backward(x, dy, outer, channels, inner, weight, bias, mean, invStd, training, dxOnly, default, default, relu, width);
        AssertClose(dxRef, dxOnly, 2e-4, what + " gradInput alone");
    }

    private static float[] RandomParameters(Generator g, int channels, double mean)
    {
        var values = new float[channels];
        g.FillNormal(values, mean, 0.5);
        return values;
    }

    private static void Relu(float[] values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Math.Max(values[i], 0);
        }
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what, bool relative = false)
    {
        if (relative)
        {
            AssertClose(Array.ConvertAll(expected, v => (double)v), Array.ConvertAll(actual, v => (double)v), tolerance, what, relative);
            return;
        }
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNaN(expected[i]) && float.IsNaN(actual[i]))
            {
                continue;
            }
            double error = Math.Abs(expected[i] - actual[i]);
            Assert.True(error <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what} at {i}: reference {expected[i]:G9}, fast {actual[i]:G9}, error {error:G3}");
        }
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what, bool relative = false)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (double.IsNaN(expected[i]) && double.IsNaN(actual[i]))
            {
                continue;   // one value per channel: the unbiased running variance is NaN in both
            }
            double error = Math.Abs(expected[i] - actual[i]);
            double allowed = relative ? tolerance * Math.Abs(expected[i]) : tolerance * (1 + Math.Abs(expected[i]));
            Assert.True(error <= allowed, $"{what} at {i}: reference {expected[i]:G12}, fast {actual[i]:G12}, error {error:G3}");
        }
    }
}
