namespace E2E.Json;

static class PluginIds
{
    public const string Id = "e2e.json12";
}
