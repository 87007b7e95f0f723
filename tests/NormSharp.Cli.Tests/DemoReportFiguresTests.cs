using System.Globalization;
using System.Text.RegularExpressions;
using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;

namespace NormSharp.Cli.Tests;

/// <summary>Every figure report.md states about a run is the one runs.csv holds for it (issue 19).</summary>
public partial class DemoReportFiguresTests
{
    [Fact]
    public void Report_figures_equal_runs_csv()
    {
        var (console, _) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            DemoCommand.Execute(new DemoSettings(DemoBudget.Tiny, outDir, null, Seed: 5, TestConsole.Embedded), console);
            var runs = ReadRuns(Path.Combine(outDir, DemoReport.RunsCsv));
            var markdown = File.ReadAllText(Path.Combine(outDir, DemoReport.ReportMd));

            // The "All runs" table, row by row.
            var rows = TableRows(markdown, "## All runs").ToList();
            Assert.Equal(runs.Keys.Order(), rows.Select(r => r[0]).Order());
            foreach (var row in rows)
            {
                var run = runs[row[0]];
                Assert.Equal(run["steps"] + (run["stopped_by_time_budget"] == "true" ? "*" : ""), row[1].Replace(",", "", StringComparison.Ordinal));
                Assert.Equal(run["steps_to_0.8"] == "" ? "not reached in " + Steps(run).ToString("N0", CultureInfo.InvariantCulture) + " steps" : Steps(run, "steps_to_0.8").ToString("N0", CultureInfo.InvariantCulture), row[2]);
                Assert.Equal(Rounded(run["final_test_accuracy"], "0.000"), row[3]);
                Assert.Equal(Rounded(run["seconds_per_epoch"], "0.00"), row[4]);
                Assert.Equal(Rounded(run["train_seconds"], "0.0"), row[5]);
                Assert.Equal(Rounded(run["total_seconds"], "0.0"), row[6]);
            }

            // Every three-decimal figure anywhere in the report is a final test accuracy (or a learning rate, such as 0.001) of
            // runs.csv, or one of the measurements the small-batch and sequence sections write beside it.
            var accuracies = runs.Values.Select(r => Rounded(r["final_test_accuracy"], "0.000"))
                .Concat(runs.Values.Select(r => LearningRateSweep.Format(double.Parse(r["learning_rate"], CultureInfo.InvariantCulture))))
                .Concat(Figures(Path.Combine(outDir, SmallBatchReport.RecalibrationCsv), "test_accuracy_before", "test_accuracy_after"))
                .Concat(Figures(Path.Combine(outDir, SequenceReport.VariableLengthCsv), "test_accuracy", "running_mean_error", "running_var_relative_error"))
                .ToHashSet();
            foreach (Match figure in ThreeDecimals().Matches(markdown))
            {
                Assert.Contains(figure.Value, accuracies);
            }

            // The summary's sentences, figure by figure, against the runs they name.
            var mlp = MlpSummary().Match(markdown);
            Assert.True(mlp.Success, "no paper-MLP summary line");
            Assert.Equal(runs["paper MLP, no norm"]["steps"], mlp.Groups["steps"].Value.Replace(",", "", StringComparison.Ordinal));
            Assert.Equal(runs["paper MLP, batch norm"]["steps"], mlp.Groups["bnSteps"].Value.Replace(",", "", StringComparison.Ordinal));
            Assert.Equal(Rounded(runs["paper MLP, batch norm"]["final_test_accuracy"], "0.000"), mlp.Groups["bn"].Value);
            Assert.Equal(Rounded(runs["paper MLP, no norm"]["final_test_accuracy"], "0.000"), mlp.Groups["none"].Value);
            var cnn = CnnSummary().Match(markdown);
            Assert.True(cnn.Success, "no CNN summary line");
            var budget = DemoBudget.Tiny;
            foreach (var (group, rate) in new[] { ("low", budget.CnnLearningRate), ("high", budget.CnnHighLearningRate) })
            {
                string name = $"{CnnExperiment.Prefix} {LearningRateSweep.Format(rate)}";
                Assert.Equal(LearningRateSweep.Format(rate), cnn.Groups[group + "Rate"].Value);
                Assert.Equal(runs[name + ", no norm"]["steps"], cnn.Groups[group + "Steps"].Value.Replace(",", "", StringComparison.Ordinal));
                Assert.Equal(Rounded(runs[name + ", batch norm"]["final_test_accuracy"], "0.000"), cnn.Groups[group + "Bn"].Value);
                Assert.Equal(Rounded(runs[name + ", no norm"]["final_test_accuracy"], "0.000"), cnn.Groups[group + "None"].Value);
            }
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>The named columns of a CSV file the demo wrote, rounded as the report rounds them.</summary>
    private static IEnumerable<string> Figures(string path, params string[] columns)
    {
        var lines = File.ReadAllLines(path);
        var header = Csv.Split(lines[0]);
        return lines.Skip(1).Where(l => l.Length > 0).Select(Csv.Split)
            .SelectMany(fields => columns.Select(c => Rounded(fields[Array.IndexOf(header, c)], "0.000")));
    }

    private static int Steps(Dictionary<string, string> run, string column = "steps") => int.Parse(run[column], CultureInfo.InvariantCulture);

    /// <summary>A CSV number as the report rounds it ("n/a" for the empty cell of NaN).</summary>
    private static string Rounded(string csvValue, string format) =>
        csvValue == "" ? "n/a" : double.Parse(csvValue, CultureInfo.InvariantCulture).ToString(format, CultureInfo.InvariantCulture);

    private static Dictionary<string, Dictionary<string, string>> ReadRuns(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = Csv.Split(lines[0]);
        return lines.Skip(1).Where(l => l.Length > 0).Select(Csv.Split)
            .ToDictionary(fields => fields[0], fields => header.Zip(fields).ToDictionary(p => p.First, p => p.Second));
    }

    /// <summary>The body rows of the first Markdown table after <paramref name="heading"/>.</summary>
    private static IEnumerable<string[]> TableRows(string markdown, string heading)
    {
        var lines = markdown[markdown.IndexOf(heading, StringComparison.Ordinal)..].Split('\n');
        return lines.SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).Skip(2)
            .Select(l => l.Trim('|', ' ').Split(" | ").Select(c => c.Trim()).ToArray());
    }

    [GeneratedRegex(@"(?<![\d.])\d\.\d{3}(?![\d.])")]
    private static partial Regex ThreeDecimals();

    [GeneratedRegex(@"Paper MLP, final test accuracy: with batch norm \*\*(?<bn>[^*]+)\*\* after (?<bnSteps>[\d,]+) steps \([\d.]+ epochs of [\d,]+ training images\), without \*\*(?<none>[^*]+)\*\* after (?<steps>[\d,]+) steps \(")]
    private static partial Regex MlpSummary();

    [GeneratedRegex(@"CNN, final test accuracy with vs without batch norm: at Adam lr (?<lowRate>[\d.]+) after (?<lowSteps>[\d,]+) steps [^*]+ \*\*(?<lowBn>[^*]+)\*\* vs \*\*(?<lowNone>[^*]+)\*\*, at lr (?<highRate>[\d.]+) after (?<highSteps>[\d,]+) steps [^*]+ \*\*(?<highBn>[^*]+)\*\* vs \*\*(?<highNone>[^*]+)\*\*")]
    private static partial Regex CnnSummary();
}
