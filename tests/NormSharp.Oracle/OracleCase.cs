using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// One differential case: a layer, the configuration it runs with, and the comparisons of NormSharp's
/// results against libtorch's. Every failure message names the layer, the configuration, the quantity
/// (output, grad input, running var, ...), the worst element's index and both values.
/// </summary>
/// <remarks>
/// <para>The tolerance, stated once for the whole suite: for every compared tensor (output, each gradient,
/// each running statistic, each optimizer parameter after each step),
/// max |a − b| &lt;= 1e-5 · max(1, max |b|), the maxima over the tensor's elements, where a is NormSharp's
/// float32 result and b is libtorch's result for the same float32 inputs and parameters. Relative to the
/// tensor's largest magnitude, not to each element: an element that is the small remainder of a long sum
/// (a weight gradient over thousands of positions) has no float32 relative accuracy in any implementation.
/// NaN must match NaN, and infinities must match exactly.</para>
/// <para>b is computed by libtorch in float64 (<see cref="OracleType"/>): the same PyTorch code, with its own
/// rounding taken out. libtorch in float32 differs from its float64 answer by more than this tolerance in
/// legitimate configurations (measured: 1.2e-4 on the input gradient of a batch norm with two values per
/// channel, 3e-5 on a constant channel, 1.6e-4 on a channel offset by 1e4; and on this machine its oneDNN
/// float32 convolution backward returns wrong input gradients outright), so a float32-to-float32 check would
/// test libtorch's rounding rather than NormSharp. The float32 run still happens alongside and its deviation
/// from float64 is reported per layer, for scale; it is not asserted.</para>
/// </remarks>
internal sealed class OracleCase
{
    /// <summary>The suite's one tolerance: max |a − b| &lt;= Tolerance · max(1, max |b|) per compared tensor.</summary>
    public const double Tolerance = 1e-5;

    /// <summary>The precision libtorch computes the asserted reference in.</summary>
    public const torch.ScalarType OracleType = torch.ScalarType.Float64;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Starts a case; <paramref name="configuration"/> is printed on every failure.</summary>
    public OracleCase(string layer, string configuration)
    {
        Layer = layer;
        Configuration = configuration;
        ErrorLog.CountCase(layer);
    }

    /// <summary>The name the largest errors are reported under (e.g. "BatchNorm2d").</summary>
    public string Layer { get; }

    /// <summary>Everything needed to reproduce the case (seed, shapes, options).</summary>
    public string Configuration { get; }

    /// <summary>
    /// Asserts that NormSharp's <paramref name="actual"/> matches libtorch's <paramref name="expected"/> within
    /// <see cref="Tolerance"/>; both null also matches. When given, <paramref name="libTorchFloat32"/> (the same
    /// computation in float32) is measured against <paramref name="expected"/> for the report, never asserted.
    /// </summary>
    public void Close(string quantity, Tensor? actual, TorchTensor? expected, TorchTensor? libTorchFloat32 = null)
    {
        if (actual is null || expected is null)
        {
            Assert.True(actual is null && expected is null,
                $"{Header(quantity)}: NormSharp has {(actual is null ? "none" : ShapeText(actual.Shape))}, libtorch has {(expected is null ? "none" : ShapeText(LibTorch.Shape(expected)))}.\n{Footer}");
            return;
        }
        var expectedShape = LibTorch.Shape(expected);
        Assert.True(actual.Shape.SequenceEqual(expectedShape),
            $"{Header(quantity)}: shape {ShapeText(actual.Shape)}, libtorch {ShapeText(expectedShape)}.\n{Footer}");
        var expectedValues = LibTorch.ToDoubles(expected);
        if (libTorchFloat32 is not null)
        {
            ErrorLog.RecordLibTorchFloat32(Layer, Measure(LibTorch.ToDoubles(libTorchFloat32), expectedValues).Error);
        }
        Close(quantity, actual.ToArray().Select(v => (double)v).ToArray(), expectedValues, expectedShape);
    }

    /// <summary>Asserts a scalar (a loss, a counter) within <see cref="Tolerance"/>.</summary>
    public void Close(string quantity, double actual, double expected) => Close(quantity, [actual], [expected], []);

    /// <summary>Asserts two value arrays of the given shape within <see cref="Tolerance"/>.</summary>
    public void Close(string quantity, double[] actual, double[] expected, int[] shape)
    {
        Assert.True(actual.Length == expected.Length,
            $"{Header(quantity)}: {actual.Length} values, libtorch {expected.Length}.\n{Footer}");
        if (actual.Length == 0)
        {
            return;
        }
        var (error, index, scale) = Measure(actual, expected);
        ErrorLog.Record(Layer, quantity, error, Configuration);
        Assert.True(error <= Tolerance,
            $"{Header(quantity)} differs from libtorch: max |a - b| / max(1, max |b|) = {error.ToString("G3", Invariant)} > {Tolerance.ToString("G", Invariant)}; " +
            $"worst at index {IndexText(index, shape)} of shape {ShapeText(shape)}: NormSharp {actual[index].ToString("G9", Invariant)}, " +
            $"libtorch {expected[index].ToString("G9", Invariant)} (max |b| = {scale.ToString("G4", Invariant)}).\n{Footer}");
    }

    /// <summary>Asserts that both sides threw (the exception types may differ) and returns NormSharp's exception.</summary>
    public Exception BothThrow(string what, Action normSharp, Action libTorch)
    {
        Exception? ours = Capture(normSharp), theirs = Capture(libTorch);
        Assert.True(ours is not null && theirs is not null,
            $"{Header(what)}: NormSharp {(ours is null ? "did not throw" : "threw " + ours.GetType().Name)}, " +
            $"libtorch {(theirs is null ? "did not throw" : "threw " + theirs.GetType().Name)}.\n{Footer}");
        return ours!;
    }

    /// <summary>
    /// The suite's error measure, max |a − b| / max(1, max |b|), with the index of the largest |a − b| and max |b|.
    /// A NaN or infinity that does not match exactly counts as an infinite error.
    /// </summary>
    private static (double Error, int Index, double Scale) Measure(double[] actual, double[] expected)
    {
        double scale = 1, worstDifference = 0;
        int worstIndex = 0;
        for (int i = 0; i < Math.Min(actual.Length, expected.Length); i++)
        {
            double a = actual[i], b = expected[i];
            double difference = double.IsFinite(a) && double.IsFinite(b)
                ? Math.Abs(a - b)
                : a.Equals(b) ? 0 : double.PositiveInfinity;
            if (double.IsFinite(b))
            {
                scale = Math.Max(scale, Math.Abs(b));
            }
            if (difference > worstDifference)
            {
                worstDifference = difference;
                worstIndex = i;
            }
        }
        return (worstDifference / scale, worstIndex, scale);
    }

    private static Exception? Capture(Action action)
    {
        try
        {
            action();
            return null;
        }
#pragma warning disable CA1031 // any exception is the expected outcome here
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ex;
        }
    }

    private string Header(string quantity) => $"{Layer} {quantity}";

    private string Footer => $"Configuration: {Configuration}";

    private static string ShapeText(int[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string IndexText(int flatIndex, int[] shape)
    {
        if (shape.Length == 0)
        {
            return "[]";
        }
        var index = new int[shape.Length];
        int rest = flatIndex;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : rest % shape[d];
            rest = shape[d] == 0 ? 0 : rest / shape[d];
        }
        return ShapeText(index) + $" (flat {flatIndex})";
    }
}

/// <summary>The largest error per layer and quantity over the whole run, for the suite summary.</summary>
internal static class ErrorLog
{
    private static readonly ConcurrentDictionary<string, int> Cases = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, (double Error, string Quantity, string Configuration)> Worst = new(StringComparer.Ordinal);

    private static readonly ConcurrentDictionary<string, double> LibTorchFloat32 = new(StringComparer.Ordinal);

    public static int TotalCases => Cases.Values.Sum();

    public static void RecordLibTorchFloat32(string layer, double error) =>
        LibTorchFloat32.AddOrUpdate(layer, error, (_, old) => Math.Max(old, error));

    public static void CountCase(string layer) => Cases.AddOrUpdate(layer, 1, (_, n) => n + 1);

    public static void Record(string layer, string quantity, double error, string configuration) =>
        Worst.AddOrUpdate(layer, (error, quantity, configuration),
            (_, old) => error > old.Error ? (error, quantity, configuration) : old);

    public static string Format()
    {
        var text = new StringBuilder();
        foreach (var layer in Cases.Keys.Order(StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"  {layer,-22} {Cases[layer],4} cases  ");
            text.Append(Worst.TryGetValue(layer, out var w)
                ? string.Create(CultureInfo.InvariantCulture, $"largest error {w.Error:0.00e+00}")
                : "no numeric comparison");
            if (LibTorchFloat32.TryGetValue(layer, out var reference))
            {
                text.Append(CultureInfo.InvariantCulture, $" (libtorch float32: {reference:0.00e+00})");
            }
            if (w.Configuration is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $" at {w.Quantity}; {w.Configuration}");
            }
            text.AppendLine();
        }
        return text.ToString();
    }
}
