using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace NormSharp.Cli;

/// <summary>
/// Parsers for numeric options whose error names the option and the text, "--lr expects a number, got "abc"", where
/// System.CommandLine would name the .NET type ("System.Nullable`1[System.Double]").
/// </summary>
internal static class NumberOptions
{
    /// <summary>Parses <paramref name="option"/>'s value as a <typeparamref name="T"/> (invariant culture).</summary>
    public static Option<T> Numeric<T>(this Option<T> option) where T : struct, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(option);
        option.CustomParser = result => Parse<T>(result, option.Name) ?? default;
        return option;
    }

    /// <summary>Parses <paramref name="option"/>'s value, when given, as a <typeparamref name="T"/> (invariant culture).</summary>
    public static Option<T?> Numeric<T>(this Option<T?> option) where T : struct, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(option);
        option.CustomParser = result => Parse<T>(result, option.Name);
        return option;
    }

    private static T? Parse<T>(ArgumentResult result, string name) where T : struct, INumber<T>
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }
        string text = result.Tokens[^1].Value;
        bool whole = T.CreateTruncating(0.5) == T.Zero;
        var styles = whole ? NumberStyles.AllowLeadingSign : NumberStyles.Float;
        if (T.TryParse(text, styles, CultureInfo.InvariantCulture, out T value))
        {
            return value;
        }
        result.AddError(whole
            ? $"{name} expects a whole number (at most {int.MaxValue:N0}), got \"{text}\"."
            : $"{name} expects a number, got \"{text}\".");
        return null;
    }
}
