namespace NormSharp.Bench;

/// <summary>The project's speed targets against libtorch (the thresholds below), evaluated on whatever cases a run measured.</summary>
internal static class Targets
{
    public static List<(string Target, string Measured, bool Met)> Evaluate(IReadOnlyList<CaseResult> results)
    {
        var rows = new List<(string, string, bool)>();
        IEnumerable<CaseResult> Where(string group, string contains) =>
            results.Where(r => r.Case.Group == group && r.Case.Name.Contains(contains, StringComparison.Ordinal));

        void Geomean(string target, IEnumerable<CaseResult> cases, double goal)
        {
            var list = cases.ToList();
            if (list.Count == 0)
            {
                return;
            }
            double value = SideBySide.GeometricMean(list.Select(r => r.Speedup));
            rows.Add((target, $"{Format.Ratio(value)} over {list.Count} shapes", value >= goal));
        }

        Geomean("BatchNorm2d fwd+bwd NCHW ≥ 3x libtorch (geomean)", Where("BatchNorm2d NCHW", "fwd+bwd"), 3.0);
        Geomean("BatchNorm2d fwd+bwd channels-last ≥ 1.2x libtorch (geomean)", Where("BatchNorm2d channels-last", "fwd+bwd"), 1.2);

        var neverSlower = results.Where(r => r.Case.Group.StartsWith("BatchNorm", StringComparison.Ordinal)
                                             && (r.Case.Name.Contains("train fwd", StringComparison.Ordinal) || r.Case.Name.Contains("eval", StringComparison.Ordinal))).ToList();
        if (neverSlower.Count > 0)
        {
            var worst = neverSlower.MinBy(r => r.Speedup)!;
            rows.Add(("BatchNorm training forward and eval never slower than libtorch",
                $"worst {Format.Ratio(worst.Speedup)} ({worst.Case.Group}: {worst.Case.Name})", worst.Speedup >= 1.0));
        }

        var large = results.Where(r => r.Case.Group.StartsWith("BatchNorm2d", StringComparison.Ordinal) && r.Case.BytesMoved > 0 && r.Case.CopyBytes >= 16L << 20).ToList();
        if (large.Count > 0)
        {
            var worst = large.MinBy(r => r.RooflineFraction(r.NormSharp))!;
            double fraction = worst.RooflineFraction(worst.NormSharp);
            rows.Add(("BN kernels ≥ 60% of copy roofline for large shapes (≥ 16 MiB)",
                $"worst {Format.Percent(fraction)} ({worst.Case.Group}: {worst.Case.Name})", fraction >= 0.6));
        }

        foreach (var epoch in results.Where(r => r.Case.Group == "Training epoch"))
        {
            rows.Add(($"One epoch no slower than libtorch: {epoch.Case.Name}", Format.Ratio(epoch.Speedup), epoch.Speedup >= 1.0));
        }

        // Issue 12: the "Steps" group.
        var steps = results.Where(r => r.Case.Group == "Steps").ToList();
        if (steps.Count > 0)
        {
            var slowest = steps.MinBy(r => r.Speedup)!;
            rows.Add(("Every Steps row ≥ 1.0x libtorch", $"worst {Format.Ratio(slowest.Speedup)} ({slowest.Case.Name})", slowest.Speedup >= 1.0));
            Geomean("Steps geometric mean ≥ 1.3x", steps, 1.3);
        }
        foreach (var (layout, goal) in new[] { ("NCHW", 1.5), ("channels-last", 1.0) })
        {
            foreach (var row in steps.Where(r => r.Case.Name.StartsWith($"BatchNorm2d {layout} ", StringComparison.Ordinal)))
            {
                double floor = row.RooflineFraction(row.NormSharp);
                rows.Add(($"BN {layout} + (y*g).Sum().Backward() ≥ {goal:0.0}x and within 1.5x of its 10S floor: {row.Case.Name[..row.Case.Name.IndexOf(')', StringComparison.Ordinal)]})",
                    $"{Format.Ratio(row.Speedup)}, {Format.Ratio(1 / floor)} the floor", row.Speedup >= goal && floor >= 1 / 1.5));
            }
        }
        foreach (var resnet in steps.Where(r => r.Case.Name.Contains("ResNet", StringComparison.Ordinal) && r.Case.Name.Contains("step", StringComparison.Ordinal)))
        {
            rows.Add(($"{resnet.Case.Name[..resnet.Case.Name.IndexOf(')', StringComparison.Ordinal)]}) ≥ 1.2x", Format.Ratio(resnet.Speedup), resnet.Speedup >= 1.2));
        }

        foreach (var gemm in Where("GEMM", "512x512 @ 512x512"))
        {
            rows.Add(("GEMM 512^3 ≥ 0.7x libtorch", Format.Ratio(gemm.Speedup), gemm.Speedup >= 0.7));
        }
        return rows;
    }
}
