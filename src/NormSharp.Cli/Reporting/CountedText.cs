using System.Globalization;

namespace NormSharp.Cli.Reporting;

/// <summary>Counts in prose: "1 epoch", "2 epochs", "6,000 images".</summary>
internal static class CountedText
{
    /// <summary><paramref name="count"/> with thousands separators and <paramref name="noun"/>, plural unless the count is 1 (nouns here take an "s").</summary>
    public static string Counted(this int count, string noun) =>
        count.ToString("N0", CultureInfo.InvariantCulture) + " " + (count == 1 ? noun : noun + "s");
}
