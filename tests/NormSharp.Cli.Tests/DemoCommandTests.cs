using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;

namespace NormSharp.Cli.Tests;

public class DemoCommandTests
{
    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void Tiny_demo_writes_every_promised_file()
    {
        var (console, output) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            var folder = DemoCommand.Execute(new DemoSettings(DemoBudget.Tiny, outDir, null, Seed: 3, TestConsole.Embedded), console);
            Assert.Equal(Path.GetFullPath(outDir), folder.Path);

            string[] pngs = [DemoReport.MlpAccuracyPng, DemoReport.PercentilesPng, DemoReport.SweepPng, DemoReport.CnnPng, SmallBatchReport.Png, SequenceReport.AccuracyPng, SequenceReport.RunningMeanPng];
            foreach (var png in pngs)
            {
                var bytes = File.ReadAllBytes(Path.Combine(outDir, png));
                Assert.True(bytes.Length > 5000, $"{png} is only {bytes.Length} bytes");
                Assert.Equal(PngMagic, bytes[..8]);
            }
            AssertCsv(outDir, DemoReport.MlpAccuracyCsv, "run,model,norm,step,epoch,train_loss,train_accuracy,test_accuracy,test_loss", minRows: 2 * 5);
            AssertCsv(outDir, DemoReport.PercentilesCsv, "norm,step,p15,p50,p85", minRows: 2 * 5);
            AssertCsv(outDir, DemoReport.SweepCsv, "learning_rate,norm,steps,final_test_accuracy,final_test_loss", minRows: 4);
            AssertCsv(outDir, DemoReport.CnnCsv, "run,model,norm,step,epoch,train_loss,train_accuracy,test_accuracy,test_loss", minRows: 2);
            AssertCsv(outDir, SequenceReport.AccuracyCsv, "run,model,norm,step,epoch,train_loss,train_accuracy,test_accuracy,test_loss", minRows: 3);   // a run the time budget stops at once still has its step-0 point
            AssertCsv(outDir, SequenceReport.VariableLengthCsv, "run,masked,steps,stopped_by_time_budget,test_accuracy,running_mean_error,running_var_relative_error,seconds", minRows: 2);
            AssertCsv(outDir, SequenceReport.RunningStatisticsCsv, "feature,true_mean,true_variance,masked_running_mean,masked_running_var,plain_running_mean,plain_running_var", minRows: 28);
            AssertCsv(outDir, DemoReport.RunsCsv, "run,model,norm,optimizer,learning_rate,batch_size,steps,stopped_by_time_budget,steps_to_0.8,final_test_accuracy,final_test_loss,seconds_per_epoch,train_seconds,total_seconds", minRows: 10);

            // Tiny: batch sizes 2 and 4, four normalizations each.
            AssertCsv(outDir, SmallBatchReport.Csv, "run,model,norm,optimizer,learning_rate,batch_size,steps,stopped_by_time_budget,steps_to_0.8,final_test_accuracy,final_test_loss,seconds_per_epoch,train_seconds,total_seconds", minRows: 8);
            var markdown = File.ReadAllText(Path.Combine(outDir, DemoReport.ReportMd));
            var html = File.ReadAllText(Path.Combine(outDir, DemoReport.ReportHtml));
            foreach (var png in pngs)
            {
                Assert.Contains($"]({png})", markdown, StringComparison.Ordinal);
            }
            Assert.Equal(pngs.Length, CountOf(html, "src=\"data:image/png;base64,"));
            Assert.Contains("embedded", markdown, StringComparison.Ordinal);
            Assert.Contains("steps to 80%", markdown, StringComparison.Ordinal);
            Assert.Contains("UpdatePrecise", markdown, StringComparison.Ordinal);

            // No temporary files left behind, and the terminal said where the data came from and showed the summary.
            Assert.DoesNotContain(Directory.GetFiles(outDir), f => Path.GetFileName(f).StartsWith('.'));
            var text = output.ToString();
            Assert.Contains("Fashion-MNIST subset embedded", text, StringComparison.Ordinal);
            Assert.Contains("Summary", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void Demo_never_overwrites_an_existing_output_folder()
    {
        string outDir = TestConsole.TempPath();
        try
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, "report.md"), "someone else's");
            var folder = OutputFolder.Create(outDir, DateTime.Now);
            Assert.Equal(Path.GetFullPath(outDir) + "-2", folder.Path);
            Assert.Equal("someone else's", File.ReadAllText(Path.Combine(outDir, "report.md")));
            folder.WriteText("a.txt", "one");
            Assert.Throws<IOException>(() => folder.WriteText("a.txt", "two"));
            Assert.Equal("one", File.ReadAllText(folder.PathOf("a.txt")));
            Assert.Equal(Path.GetFullPath(outDir) + "-3", OutputFolder.Create(outDir, DateTime.Now).Path);
        }
        finally
        {
            foreach (var dir in new[] { outDir, outDir + "-2", outDir + "-3" }.Where(Directory.Exists))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Default_output_folder_is_timestamped_under_normsharp_out()
    {
        string root = TestConsole.TempPath();
        Directory.CreateDirectory(root);
        try
        {
            var folder = OutputFolder.Create(null, new DateTime(2026, 1, 2, 3, 4, 5), root);
            Assert.Equal(Path.Combine(Path.GetFullPath(root), "normsharp-out", "20260102-030405"), folder.Path);
            Assert.True(Directory.Exists(folder.Path));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Command_line_parses_demo_train_and_compare()
    {
        var root = Program.BuildRoot();
        Assert.Empty(root.Parse(["demo", "--quick", "--out", "x", "--seed", "4"]).Errors);
        Assert.Empty(root.Parse(["train", "--model", "cnn", "--norm", "group", "--epochs", "2", "--batch-size", "32", "--lr", "0.01", "--optimizer", "sgd"]).Errors);
        Assert.Empty(root.Parse(["compare", "--norm", "batch,layer,group,none", "--model", "paper-mlp"]).Errors);
        Assert.NotEmpty(root.Parse(["demo", "--no-such-option"]).Errors);
        Assert.NotEmpty(root.Parse(["train", "--epochs", "many"]).Errors);
    }

    private static void AssertCsv(string dir, string name, string header, int minRows)
    {
        var lines = File.ReadAllLines(Path.Combine(dir, name));
        Assert.Equal(header, lines[0]);
        Assert.True(lines.Length - 1 >= minRows, $"{name} has {lines.Length - 1} rows, expected at least {minRows}");
        int columns = header.Split(',').Length;
        Assert.All(lines[1..], line => Assert.Equal(columns, Csv.Split(line).Length));
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + 1, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
