using System.Reflection;
using Maskwork.Bench;

// dotnet run -c Release --project bench/Maskwork.Bench -- <case> [--json] [case options]
// Every case prints one JSON line on stdout; progress goes to stderr.
var cases = typeof(IBenchCase).Assembly.GetTypes()
    .Where(t => typeof(IBenchCase).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchCase)Activator.CreateInstance(t)!)
    .ToDictionary(c => c.Name, StringComparer.Ordinal);

if (args.Length == 0 || !cases.TryGetValue(args[0], out var selected))
{
    Console.Error.WriteLine("usage: Maskwork.Bench <case> [--json] [options]\ncases:");
    foreach (var c in cases.Values.OrderBy(c => c.Name)) Console.Error.WriteLine($"  {c.Name,-14} {c.Summary}");
    return args.Length == 0 ? 0 : 2;
}
// A user libtorch (e.g. CUDA), as the host's Libtorch setting: loaded before TorchSharp initialises.
if (Environment.GetEnvironmentVariable("MASKWORK__LIBTORCH") is { Length: > 0 } libtorch) Maskwork.Backend.Devices.UserLibtorch.Use(libtorch, Environment.GetEnvironmentVariable("MASKWORK__LIBTORCHSHIM") is { Length: > 0 } shim ? shim : null);
if (!Maskwork.Backend.Devices.TorchRuntime.TryLoad(out var detail)) { Console.Error.WriteLine(detail); return 1; }
return await selected.RunAsync(new BenchArgs(args.Skip(1).ToArray()));
