using System.Globalization;

namespace NormSharp.Bench;

internal static class Format
{
    public static string Milliseconds(double seconds) => (seconds * 1e3).ToString(seconds >= 1 ? "F0" : seconds >= 0.01 ? "F1" : "F3", CultureInfo.InvariantCulture);

    public static string Ratio(double ratio) => double.IsNaN(ratio) ? "–" : ratio.ToString("F2", CultureInfo.InvariantCulture) + "x";

    public static string Percent(double fraction) => double.IsNaN(fraction) ? "–" : (fraction * 100).ToString("F0", CultureInfo.InvariantCulture) + "%";

    public static string Number(double value, string format = "F1") => value.ToString(format, CultureInfo.InvariantCulture);
}
