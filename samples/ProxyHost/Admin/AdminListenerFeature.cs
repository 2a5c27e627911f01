namespace ProxyHost.Admin;

/// <summary>The one value of <see cref="IAdminListenerFeature"/>: it carries no data.</summary>
internal sealed class AdminListenerFeature : IAdminListenerFeature
{
    public static readonly AdminListenerFeature Instance = new();
}
