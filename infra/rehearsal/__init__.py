"""The deploy rehearsal (``make rehearse``): what ``sam deploy`` would create, created offline in
moto's CloudFormation and checked resource by resource; and the offline SAM transform it uses."""
