using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text;

namespace NormSharp.Bench;

/// <summary>Renders the results as markdown: one table per group, then the speed targets with measured values.</summary>
internal static class Report
{
    public static string Markdown(IReadOnlyList<CaseResult> results, int runs, int warmup, TimeSpan elapsed, string load)
    {
        var text = new StringBuilder();
        text.AppendLine("# NormSharp vs libtorch, side by side");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {Environment.ProcessorCount} cores, {Machine()}; .NET {Environment.Version}; " +
            $"libtorch {TorchSharp.torch.__version__} with {TorchSharp.torch.get_num_threads()} threads; " +
            $"median of {runs} interleaved runs after {warmup} warm-up runs (the runs column says where a row differs); total {elapsed.TotalMinutes:F1} min; {load}.");
        text.AppendLine();
        text.AppendLine("Speed-up = libtorch time / NormSharp time (above 1: NormSharp is faster). Roofline = (bytes the operation must move / " +
                        "bandwidth of a same-run 2-thread copy of the same working set) / time; the traffic column says which bytes are counted " +
                        "(S = bytes of one activation tensor).");
        foreach (var group in results.GroupBy(r => r.Case.Group))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"## {group.Key}");
            text.AppendLine();
            bool roofline = group.Any(r => r.Case.BytesMoved > 0);
            text.AppendLine(roofline
                ? "| case | NormSharp ms | libtorch ms | speed-up | NormSharp roofline | libtorch roofline | traffic | copy GB/s | runs |"
                : "| case | NormSharp ms | libtorch ms | speed-up | runs |");
            text.AppendLine(roofline ? "|---|---:|---:|---:|---:|---:|---|---:|---:|" : "|---|---:|---:|---:|---:|");
            foreach (var r in group)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"| {r.Case.Name} | {Format.Milliseconds(r.NormSharp)} | {Format.Milliseconds(r.Torch)} | {Format.Ratio(r.Speedup)} |");
                if (roofline)
                {
                    text.Append(CultureInfo.InvariantCulture,
                        $" {Format.Percent(r.RooflineFraction(r.NormSharp))} | {Format.Percent(r.RooflineFraction(r.Torch))} | {r.Case.Traffic ?? "–"} | {(r.CopyBandwidth > 0 ? Format.Number(r.CopyBandwidth / 1e9) : "–")} |");
                }
                text.AppendLine(CultureInfo.InvariantCulture, $" {r.Runs} |");
            }
        }
        var targets = Targets.Evaluate(results);
        if (targets.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## Targets");
            text.AppendLine();
            text.AppendLine("| target | measured | met |");
            text.AppendLine("|---|---|---|");
            foreach (var (target, measured, met) in targets)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {target} | {measured} | {(met ? "yes" : "**no**")} |");
            }
        }
        return text.ToString();
    }

    // The two vector widths NormSharp picks: memory-bound kernels (Simd.Best) and the GEMM/convolution tiles (Simd.MultiplyAdd).
    private static string Machine() => $"{Kernels.Simd.Best}, multiply-add tiles {Kernels.Simd.MultiplyAdd}";

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> through a temporary file and a rename.</summary>
    public static void WriteAtomically(string path, string text)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temporary = full + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, full, overwrite: true);
    }
}
