using NormSharp.Distributed;
using NormSharp.Distributed.Checks;

// Runs one check of DistributedChecks on the MPI world: `mpiexec -n N dotnet NormSharp.Distributed.Runner.dll CHECK`.
// Each rank prints "rank R of N passed: ..." when its check passed; a failing check throws, and the unhandled
// exception aborts every rank (ProcessGroup.Mpi's guard), so the job ends with a non-zero exit code.
if (args.Length != 1)
{
    Console.Error.WriteLine($"usage: NormSharp.Distributed.Runner CHECK   (CHECK: {string.Join(", ", DistributedChecks.Names)})");
    return 2;
}
double timeoutSeconds = double.TryParse(Environment.GetEnvironmentVariable("NORMSHARP_TEST_TIMEOUT_S"), System.Globalization.CultureInfo.InvariantCulture, out var t) ? t : 120;
using var group = ProcessGroup.Mpi(TimeSpan.FromSeconds(timeoutSeconds));
string summary = DistributedChecks.Run(args[0], group);
Console.WriteLine($"rank {group.Rank} of {group.WorldSize} passed {args[0]}: {summary}");
return 0;
