"""moto reads the service's hosts and paths from here (found via the
backend class's module: ``...models`` -> ``...urls``)."""

from exporter.fake.savingsplans.responses import SavingsPlansResponse

url_bases = [
    r"https?://savingsplans\.(.+)\.amazonaws\.com",
    r"https?://savingsplans\.amazonaws\.com",
]

url_paths = {"{0}/DescribeSavingsPlans$": SavingsPlansResponse.dispatch}
