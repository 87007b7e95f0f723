using NormSharp.Cli.Experiments;
using ScottPlot;

namespace NormSharp.Cli.Reporting;

/// <summary>One line of a plot: a label, a color and (x, y) points.</summary>
internal sealed record Series(string Label, Color Color, double[] X, double[] Y, bool Dashed = false);

/// <summary>The PNG figures, drawn with ScottPlot: labelled axes, a legend, a title, readable at 100%.</summary>
internal static class Plots
{
    public const int Width = 900;
    public const int Height = 560;

    /// <summary>
    /// The font family of every text element. SkiaSharp's self-contained Linux build has no fontconfig,
    /// so a family is found by name only after its files are registered; DejaVu Sans ships with Debian
    /// and Ubuntu (fonts-dejavu-core). Without it, ScottPlot's default font is used.
    /// </summary>
    private static readonly string FontName = RegisterSansFont();

    /// <summary>A color per normalization, the same in every figure (batch norm blue, no norm red).</summary>
    public static Color ColorOf(NormKind norm) => norm switch
    {
        NormKind.Batch => Color.FromHex("#1f77b4"),
        NormKind.None => Color.FromHex("#d62728"),
        NormKind.Layer => Color.FromHex("#2ca02c"),
        NormKind.Group => Color.FromHex("#9467bd"),
        NormKind.Renorm => Color.FromHex("#17becf"),
        NormKind.Ghost => Color.FromHex("#8c564b"),
        _ => Color.FromHex("#ff7f0e"),
    };

    /// <summary>Lines on one set of axes, with an optional dashed horizontal reference (e.g. the target accuracy).</summary>
    public static void Lines(OutputFolder folder, string fileName, string title, string xLabel, string yLabel,
        IEnumerable<Series> series, (double Y, string Label)? reference = null, (double Min, double Max)? yRange = null)
    {
        var plot = NewPlot(title, xLabel, yLabel);
        AddLines(plot, series);
        if (reference is { } r)
        {
            var line = plot.Add.HorizontalLine(r.Y);
            line.LinePattern = LinePattern.Dashed;
            line.Color = Colors.Gray;
            line.LineWidth = 1.5f;
            line.LegendText = r.Label;
        }
        if (yRange is { } range)
        {
            plot.Axes.SetLimitsY(range.Min, range.Max);
        }
        plot.ShowLegend(Alignment.LowerRight);
        Save(folder, fileName, plot, Width, Height);
    }

    /// <summary>Two panels side by side (e.g. accuracy and loss), each with its own series.</summary>
    public static void TwoPanels(OutputFolder folder, string fileName,
        (string Title, string XLabel, string YLabel, IEnumerable<Series> Series, Alignment Legend, (double, double)? YRange) left,
        (string Title, string XLabel, string YLabel, IEnumerable<Series> Series, Alignment Legend, (double, double)? YRange) right)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        foreach (var (plot, panel) in new[] { (multiplot.GetPlot(0), left), (multiplot.GetPlot(1), right) })
        {
            Style(plot, panel.Title, panel.XLabel, panel.YLabel);
            AddLines(plot, panel.Series);
            if (panel.YRange is (double min, double max))
            {
                plot.Axes.SetLimitsY(min, max);
            }
            plot.ShowLegend(panel.Legend);
        }
        Save(folder, fileName, multiplot, 2 * Width - 100, Height);
    }

    /// <summary>
    /// The paper's Figure 1(b, c): the 15th, 50th and 85th percentiles of one sigmoid's input over
    /// training, without (left) and with (right) batch norm, on a shared vertical scale.
    /// </summary>
    public static void Percentiles(OutputFolder folder, string fileName, string yLabel,
        (string Title, double[] Steps, double[] P15, double[] P50, double[] P85) left,
        (string Title, double[] Steps, double[] P15, double[] P50, double[] P85) right)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var all = left.P15.Concat(left.P85).Concat(right.P15).Concat(right.P85).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        double low = all.Min(), high = all.Max(), pad = Math.Max(0.05 * (high - low), 0.1);
        foreach (var (plot, panel, color) in new[] { (multiplot.GetPlot(0), left, ColorOf(NormKind.None)), (multiplot.GetPlot(1), right, ColorOf(NormKind.Batch)) })
        {
            Style(plot, panel.Title, "training step", yLabel);
            var band = plot.Add.FillY(panel.Steps, panel.P15, panel.P85);
            band.FillColor = color.WithAlpha(0.15);
            band.LineColor = Colors.Transparent;
            AddLines(plot,
            [
                new Series("85th percentile", color, panel.Steps, panel.P85, Dashed: true),
                new Series("50th percentile (median)", color, panel.Steps, panel.P50),
                new Series("15th percentile", color.Darken(0.35), panel.Steps, panel.P15, Dashed: true),
            ]);
            plot.Axes.SetLimitsY(low - pad, high + pad);
            // Below the axes: the band fills the panel, so a legend inside would hide data.
            plot.ShowLegend(Edge.Bottom);
        }
        Save(folder, fileName, multiplot, 2 * Width - 100, Height);
    }

    /// <summary>Grouped bars: one group per category (learning rate), one bar per series (with and without batch norm), values printed on the bars.</summary>
    public static void GroupedBars(OutputFolder folder, string fileName, string title, string xLabel, string yLabel,
        string[] categories, IReadOnlyList<(string Label, Color Color, double[] Values)> groups)
    {
        var plot = NewPlot(title, xLabel, yLabel);
        double groupWidth = 0.8, barWidth = groupWidth / groups.Count;
        var bars = new List<Bar>();
        for (int g = 0; g < groups.Count; g++)
        {
            for (int c = 0; c < categories.Length; c++)
            {
                double value = groups[g].Values[c];
                bars.Add(new Bar
                {
                    Position = c - groupWidth / 2 + barWidth * (g + 0.5),
                    Value = double.IsFinite(value) ? value : 0,
                    Size = barWidth * 0.95,
                    FillColor = groups[g].Color,
                    LineWidth = 0,
                    Label = double.IsFinite(value) ? value.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : "n/a",
                });
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 13;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, categories.Length).Select(i => (double)i).ToArray(), categories);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimitsY(0, 1.08);
        plot.Axes.SetLimitsX(-0.6, categories.Length - 0.4);
        foreach (var group in groups)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = group.Label, FillColor = group.Color });
        }
        plot.ShowLegend(Alignment.UpperLeft);
        Save(folder, fileName, plot, Width, Height);
    }

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        Style(plot, title, xLabel, yLabel);
        return plot;
    }

    private static void Style(Plot plot, string title, string xLabel, string yLabel)
    {
        plot.Title(title, size: 17);
        plot.XLabel(xLabel, size: 15);
        plot.YLabel(yLabel, size: 15);
        // After the labels, so that every text element (titles included) takes the sans-serif font.
        plot.Font.Set(FontName);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Legend.FontSize = 13;
    }

    private static string RegisterSansFont()
    {
        const string family = "DejaVu Sans";
        string[] folders = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF"];
        foreach (var folder in folders)
        {
            string regular = Path.Combine(folder, "DejaVuSans.ttf"), bold = Path.Combine(folder, "DejaVuSans-Bold.ttf");
            if (File.Exists(regular))
            {
                Fonts.AddFontFile(family, regular, bold: false, italic: false);
                Fonts.AddFontFile(family, File.Exists(bold) ? bold : regular, bold: true, italic: false);
                return family;
            }
        }
        return Fonts.Default;
    }

    private static void AddLines(Plot plot, IEnumerable<Series> series)
    {
        foreach (var s in series)
        {
            var line = plot.Add.ScatterLine(s.X, s.Y);
            line.LegendText = s.Label;
            line.Color = s.Color;
            line.LineWidth = 2.2f;
            if (s.Dashed)
            {
                line.LinePattern = LinePattern.Dashed;
            }
        }
    }

    private static void Save(OutputFolder folder, string fileName, Plot plot, int width, int height) =>
        folder.Write(fileName, temporary => plot.SavePng(temporary, width, height));

    private static void Save(OutputFolder folder, string fileName, Multiplot plot, int width, int height) =>
        folder.Write(fileName, temporary => plot.SavePng(temporary, width, height));
}
