using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;

namespace NormSharp.Cli.Tests;

public class DemoReportDataTests
{
    [Fact]
    public void The_report_counts_the_test_images_the_curves_used_when_the_test_set_is_smaller_than_the_budget()
    {
        var (console, _) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            // As the full budget (curves on 2,000 test images) on a set of 300.
            var budget = DemoBudget.Tiny with { EvalSamples = 2000 };
            DemoCommand.Execute(new DemoSettings(budget, outDir, null, Seed: 3, TestConsole.Embedded), console);
            var markdown = File.ReadAllText(Path.Combine(outDir, DemoReport.ReportMd));
            Assert.Contains("curves are evaluated on all 300 test images, as the final accuracies", markdown, StringComparison.Ordinal);
            Assert.DoesNotContain("2,000", markdown, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }
}
