using NormSharp.Distributed;
using NormSharp.Distributed.Checks;

// Runs checks of DistributedChecks on the MPI world: `mpiexec -n N dotnet NormSharp.Distributed.Runner.dll CHECK[,CHECK...]`.
// Each rank prints "rank R of N passed CHECK: ..." for each check that passed; a failing check throws, and the unhandled
// exception aborts every rank (ProcessGroup.Mpi's guard), so the job ends with a non-zero exit code.
if (args.Length != 1)
{
    Console.Error.WriteLine($"usage: NormSharp.Distributed.Runner CHECK[,CHECK...]   (CHECK: {string.Join(", ", DistributedChecks.Names)})");
    return 2;
}
double timeoutSeconds = double.TryParse(Environment.GetEnvironmentVariable("NORMSHARP_TEST_TIMEOUT_S"), System.Globalization.CultureInfo.InvariantCulture, out var t) ? t : 120;
using var group = ProcessGroup.Mpi(TimeSpan.FromSeconds(timeoutSeconds));
foreach (var check in args[0].Split(','))
{
    string summary = DistributedChecks.Run(check, group);
    Console.WriteLine($"rank {group.Rank} of {group.WorldSize} passed {check}: {summary}");
}
return 0;
