using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// One differential case: a layer, the configuration it runs with, and the comparisons of NormSharp's
/// results against libtorch's. Every failure message names the layer, the configuration, the quantity
/// (output, gradInput, ...), the worst element's index and both values.
/// </summary>
/// <remarks>
/// The tolerance, stated once for the whole suite: every element must satisfy
/// |NormSharp - libtorch| &lt;= 1e-5 · max(1, |libtorch|), both sides in float32 unless a case says
/// otherwise. NaN must match NaN, and infinities must match exactly.
/// </remarks>
internal sealed class OracleCase
{
    /// <summary>Relative tolerance (absolute below magnitude 1) for float32 results.</summary>
    public const double Tolerance = 1e-5;

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

    /// <summary>The largest error seen in this case so far.</summary>
    public double WorstError { get; private set; }

    /// <summary>
    /// Asserts that NormSharp's <paramref name="actual"/> matches libtorch's <paramref name="expected"/>
    /// element by element within <see cref="Tolerance"/>; both null also matches.
    /// </summary>
    public void Close(string quantity, Tensor? actual, TorchTensor? expected)
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
        Close(quantity, actual.ToArray().Select(v => (double)v).ToArray(), LibTorch.ToDoubles(expected), expectedShape);
    }

    /// <summary>Asserts a scalar (a loss, a counter) within <see cref="Tolerance"/>.</summary>
    public void Close(string quantity, double actual, double expected) => Close(quantity, [actual], [expected], []);

    /// <summary>Asserts two value arrays of the given shape within <see cref="Tolerance"/>.</summary>
    public void Close(string quantity, double[] actual, double[] expected, int[] shape)
    {
        Assert.True(actual.Length == expected.Length,
            $"{Header(quantity)}: {actual.Length} values, libtorch {expected.Length}.\n{Footer}");
        double worst = 0;
        int worstIndex = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], b = expected[i];
            double error;
            if (double.IsNaN(a) || double.IsNaN(b) || double.IsInfinity(a) || double.IsInfinity(b))
            {
                error = a.Equals(b) ? 0 : double.PositiveInfinity;
            }
            else
            {
                error = Math.Abs(a - b) / Math.Max(1, Math.Abs(b));
            }
            if (error > worst || worstIndex < 0)
            {
                worst = error;
                worstIndex = i;
            }
        }
        if (worstIndex < 0)
        {
            return;   // empty tensors match
        }
        WorstError = Math.Max(WorstError, worst);
        ErrorLog.Record(Layer, quantity, worst, Configuration);
        Assert.True(worst <= Tolerance,
            $"{Header(quantity)} differs from libtorch: |a - b| / max(1, |b|) = {worst.ToString("G3", Invariant)} > {Tolerance.ToString("G", Invariant)} " +
            $"at index {IndexText(worstIndex, shape)} of shape {ShapeText(shape)}: " +
            $"NormSharp {actual[worstIndex].ToString("G9", Invariant)}, libtorch {expected[worstIndex].ToString("G9", Invariant)}.\n{Footer}");
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

    public static int TotalCases => Cases.Values.Sum();

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
                ? string.Create(CultureInfo.InvariantCulture, $"largest error {w.Error:E2} ({w.Quantity}; {w.Configuration})")
                : "no numeric comparison");
            text.AppendLine();
        }
        return text.ToString();
    }
}
