using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;

namespace NormSharp.Cli.Tests;

public class ReportingTests
{
    [Fact]
    public void Csv_quotes_fields_and_uses_invariant_numbers()
    {
        var csv = new CsvTable("name", "value", "missing").Row("a, \"b\"", 0.5, double.NaN).Row("plain", 1e-7, 3).ToString();
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("name,value,missing", lines[0]);
        Assert.Equal(new[] { "a, \"b\"", "0.5", "" }, Csv.Split(lines[1]));
        Assert.Equal(new[] { "plain", "1E-07", "3" }, Csv.Split(lines[2]));
        Assert.Throws<ArgumentException>(() => new CsvTable("a", "b").Row(1));
    }

    [Fact]
    public void Report_renders_markdown_and_self_contained_html()
    {
        var doc = new ReportDocument("T <1>")
            .Heading("Section")
            .Paragraph("**bold** and `code` & more")
            .Table(["a", "b"], [["1", "x|y"]])
            .Figure("f.png", "caption");
        var md = doc.ToMarkdown();
        Assert.Contains("# T <1>", md, StringComparison.Ordinal);
        Assert.Contains("| 1 | x\\|y |", md, StringComparison.Ordinal);
        Assert.Contains("![caption](f.png)", md, StringComparison.Ordinal);
        var html = doc.ToHtml(name => name == "f.png" ? [1, 2, 3] : null);
        Assert.Contains("<title>T &lt;1&gt;</title>", html, StringComparison.Ordinal);
        Assert.Contains("<strong>bold</strong> and <code>code</code> &amp; more", html, StringComparison.Ordinal);
        Assert.Contains("src=\"data:image/png;base64,AQID\"", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.15, 1.45)]
    [InlineData(0.5, 2.5)]
    [InlineData(0.85, 3.55)]
    [InlineData(1.0, 4.0)]
    public void Percentile_interpolates_linearly_like_numpy(double q, double expected)
    {
        // numpy.percentile([1, 2, 3, 4], 100 * q)
        Assert.Equal(expected, PaperMlpExperiment.Percentile([1, 2, 3, 4], q), 12);
    }

    [Fact]
    public void Choices_parse_and_reject_with_the_valid_values()
    {
        Assert.Equal(ModelKind.PaperMlp, Choices.ParseModel("paper-mlp"));
        Assert.Equal([NormKind.Batch, NormKind.Layer, NormKind.Group, NormKind.None], Choices.ParseNormList("batch, layer,group,none,batch"));
        var ex = Assert.Throws<ArgumentException>(() => Choices.ParseNorm("weight"));
        Assert.Contains("none, batch, layer, group, instance", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Choices.ParseNormList(" , "));
        Assert.Throws<ArgumentException>(() => Choices.ParseOptimizer("lbfgs"));
    }

    [Fact]
    public void Instance_norm_on_a_fully_connected_model_is_a_clear_error()
    {
        var ex = Assert.Throws<ArgumentException>(() => Models.Create(ModelKind.Mlp, NormKind.Instance, [1, 28, 28], 10, new Generator(0)));
        Assert.Contains("--model cnn", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_schedules_hit_the_expected_steps()
    {
        var dense = new EvalSchedule(Every: 100, DenseEvery: 20, DenseUntil: 200);
        Assert.Equal(new[] { 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 300, 400 }, Enumerable.Range(1, 400).Where(dense.IsDue));
        // 93 steps per epoch, 4 points: the epoch's end is always one of them.
        var perEpoch = EvalSchedule.PerEpoch(93, 4);
        Assert.Equal(new[] { 24, 47, 70, 93, 117, 140, 163, 186 }, Enumerable.Range(1, 186).Where(perEpoch.IsDue));
    }
}
